// Types shared by the engine worker and the page. The page imports only these types and
// talks to the worker through comlink; it never touches the GPU itself.
import type { AdapterSummary } from '../gpu/device.ts';
import type { WebGpuUnavailableReason } from '../gpu/errors.ts';

export type GpuStatus =
  | { ok: true; adapter: AdapterSummary; label: string }
  | { ok: false; reason: WebGpuUnavailableReason | 'error'; message: string; advice: string };

export interface SelfTestResult {
  ok: boolean;
  /** Largest |GPU − float64 reference| over the product. */
  maxDiff: number;
  M: number;
  N: number;
  K: number;
  /** Wall time of the GPU run including readback, milliseconds. */
  ms: number;
}

export interface EngineWorkerApi {
  /** Acquire the GPU device in the worker; never throws, reports why WebGPU is unusable. */
  init(): Promise<GpuStatus>;
  /** Multiply random matrices on the GPU and compare with the float64 CPU reference. */
  matmulSelfTest(M: number, N: number, K: number, seed?: number): Promise<SelfTestResult>;
}
