// GPU status slice: what the header shows (adapter, limits, why WebGPU is unavailable).
import type { StateCreator } from 'zustand';
import type { GpuStatus, SelfTestResult } from '../worker/protocol.ts';

export interface GpuSlice {
  gpu: GpuStatus | null;
  selfTest: SelfTestResult | null;
  setGpu(status: GpuStatus): void;
  setSelfTest(result: SelfTestResult): void;
}

export const createGpuSlice: StateCreator<GpuSlice, [], [], GpuSlice> = (set) => ({
  gpu: null,
  selfTest: null,
  setGpu: (gpu) => set({ gpu }),
  setSelfTest: (selfTest) => set({ selfTest }),
});
