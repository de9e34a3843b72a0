// GPU status slice: what the header shows (adapter, limits, why WebGPU is unavailable), and the
// display epoch: bumped after a device or context loss, every picture and chart redraws itself
// from the data the store keeps (nothing waits for the next training step).
import type { StateCreator } from 'zustand';
import type { GpuStatus, SelfTestResult } from '../worker/protocol.ts';

export interface GpuSlice {
  gpu: GpuStatus | null;
  selfTest: SelfTestResult | null;
  setGpu(status: GpuStatus): void;
  setSelfTest(result: SelfTestResult): void;
  /** Bumped when the browser may have dropped drawn pixels (GPU process crash, device lost). */
  displayEpoch: number;
  redrawAll(): void;
}

export const createGpuSlice: StateCreator<GpuSlice, [], [], GpuSlice> = (set) => ({
  gpu: null,
  selfTest: null,
  setGpu: (gpu) => set({ gpu }),
  setSelfTest: (selfTest) => set({ selfTest }),
  displayEpoch: 0,
  redrawAll: () => set((s) => ({ displayEpoch: s.displayEpoch + 1 })),
});
