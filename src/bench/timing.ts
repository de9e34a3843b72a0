// Timing of GPU work for the benchmarks. Two methods, chosen by what the adapter offers:
//  - 'gpu-timestamps': every timed unit (one kernel call, one phase of a step) is encoded in
//    its own compute pass with timestampWrites; the GPU's own begin/end stamps give its time,
//    free of submit and readback latency. Needs the 'timestamp-query' feature, which
//    src/gpu/device.ts requests whenever the adapter has it.
//  - 'wall-clock': submit, then wait on a 4-byte readback (a fence every WebGPU implementation
//    honours the same way) and take performance.now() differences; several calls go into one
//    submission when a call is short, so the fence's latency is spread over them.
// The wall-clock figure is always measured too: it is what a user waits for.
// Surprise: Dawn quantises timestamps to 65.5 µs by default (Chrome too): src/gpu/node-device.ts
// and the benchmark's Chromium (tests/helpers/browser.ts) turn that off; an ordinary browser
// page keeps it, so short phases read 0 there.
import { Usage } from '../gpu/buffers.ts';
import { encodeDispatches, type Dispatch } from '../gpu/dispatch.ts';
import { throwIfFailed } from '../gpu/device.ts';
import type { Engine } from '../gpu/engine.ts';
import { repetitionsFor, summarize, type Summary } from './stats.ts';

export type TimingMethod = 'gpu-timestamps' | 'wall-clock';

const QUERY_RESOLVE = 0x200;
const MAP_READ_MODE = 0x1;
/** Calls of a short kernel batched into one submission (and timestamp slots per timer). */
const MAX_CALLS_PER_SUBMIT = 64;

export class GpuTimingError extends Error {
  override readonly name = 'GpuTimingError';
}

/**
 * A timestamp query set with room for `capacity` passes (2 queries each), its resolve buffer
 * and a staging buffer. One timer serves one measurement at a time.
 */
export class PassTimer {
  readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly staging: GPUBuffer;

  private constructor(
    readonly device: GPUDevice,
    readonly capacity: number,
  ) {
    this.querySet = device.createQuerySet({ label: 'bench/timestamps', type: 'timestamp', count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({ label: 'bench/timestamps-resolve', size: 16 * capacity, usage: QUERY_RESOLVE | Usage.COPY_SRC });
    this.staging = device.createBuffer({ label: 'bench/timestamps-staging', size: 16 * capacity, usage: Usage.MAP_READ | Usage.COPY_DST });
  }

  /** A timer, or null when the device has no 'timestamp-query'. */
  static create(engine: Engine, capacity = 256): PassTimer | null {
    if (!engine.ctx.hasTimestamps) return null;
    return new PassTimer(engine.ctx.device, capacity);
  }

  /** Begin a compute pass whose start and end are stamped into slot `slot`. */
  beginPass(encoder: GPUCommandEncoder, label: string, slot: number): GPUComputePassEncoder {
    if (slot < 0 || slot >= this.capacity) throw new GpuTimingError(`timestamp slot ${slot} outside 0..${this.capacity - 1}`);
    return encoder.beginComputePass({
      label,
      timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 },
    });
  }

  /** Record the resolve of slots [0, count) into the staging buffer (after the passes). */
  resolve(encoder: GPUCommandEncoder, count: number): void {
    encoder.resolveQuerySet(this.querySet, 0, 2 * count, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.staging, 0, 16 * count);
  }

  /** Durations in ms of slots [0, count), once the submission that resolved them is done. */
  async read(count: number): Promise<number[]> {
    await this.staging.mapAsync(MAP_READ_MODE, 0, 16 * count);
    const stamps = new BigInt64Array(this.staging.getMappedRange(0, 16 * count).slice(0));
    this.staging.unmap();
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
      // A pass the implementation could not stamp reads 0 or runs backwards: say so, never guess.
      if (!(ns >= 0)) throw new GpuTimingError(`timestamp slot ${i}: end before begin (${ns} ns)`);
      out.push(ns / 1e6);
    }
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.staging.destroy();
  }
}

/** A 4-byte buffer whose readback is the wall-clock fence. */
export class Fence {
  private readonly buffer: GPUBuffer;
  constructor(private readonly engine: Engine) {
    this.buffer = engine.ctx.device.createBuffer({ label: 'bench/fence', size: 4, usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST });
  }
  /** Submit `encoder` with a fence copy at its end and wait until the GPU has passed it. */
  async submitAndWait(encoder: GPUCommandEncoder, during: string): Promise<void> {
    const pending = this.engine.readback.copy(encoder, this.buffer, 0, 4);
    this.engine.ctx.device.queue.submit([encoder.finish()]);
    await pending.read();
    throwIfFailed(this.engine.ctx, during);
  }
  destroy(): void {
    this.buffer.destroy();
  }
}

export interface TimingOptions {
  /** Spend about this long on timed repetitions (after the warm-up), ms. */
  budgetMs: number;
  minSamples: number;
  maxSamples: number;
  /** Calls per submission under 'wall-clock' are raised until one submission takes about this long. */
  targetSubmitMs: number;
  /** Force wall-clock timing even when timestamps exist. */
  wallClockOnly?: boolean;
}

export const DEFAULT_TIMING: TimingOptions = { budgetMs: 1500, minSamples: 3, maxSamples: 30, targetSubmitMs: 20 };

export interface Timing {
  method: TimingMethod;
  /** Per-call time: GPU timestamps when the method says so, else wall-clock. */
  ms: Summary;
  /** Per-call wall-clock time (submission to fence), always measured. */
  wallMs: Summary;
  /** Calls encoded per submission. */
  callsPerSubmit: number;
}

/**
 * Runs `calls` calls of `dispatches` (one compute pass each) per submission and measures
 * them: wall-clock per call to the fence, and each call's GPU time when timestamps are used.
 */
export class DispatchSampler {
  private readonly timer: PassTimer | null;
  private readonly fence: Fence;

  constructor(
    private readonly engine: Engine,
    private readonly label: string,
    private readonly dispatches: readonly Dispatch[],
    timestamps: boolean,
  ) {
    this.timer = timestamps ? PassTimer.create(engine, MAX_CALLS_PER_SUBMIT) : null;
    this.fence = new Fence(engine);
  }

  get method(): TimingMethod {
    return this.timer ? 'gpu-timestamps' : 'wall-clock';
  }

  async sample(calls: number): Promise<{ wall: number; gpu: number[] }> {
    const n = Math.min(calls, MAX_CALLS_PER_SUBMIT);
    const encoder = this.engine.ctx.device.createCommandEncoder({ label: this.label });
    for (let i = 0; i < n; i++) {
      const pass = this.timer ? this.timer.beginPass(encoder, this.label, i) : encoder.beginComputePass({ label: this.label });
      encodeDispatches(pass, this.dispatches);
      pass.end();
    }
    if (this.timer) this.timer.resolve(encoder, n);
    const t0 = performance.now();
    await this.fence.submitAndWait(encoder, this.label);
    const wall = (performance.now() - t0) / n;
    const gpu = this.timer ? await this.timer.read(n) : [];
    return { wall, gpu };
  }

  destroy(): void {
    this.timer?.destroy();
    this.fence.destroy();
  }
}

/** Calls per submission so that one submission takes about `targetMs` (short calls share one). */
export function callsPerSubmit(probeMs: number, targetMs: number): number {
  return Math.max(1, Math.min(MAX_CALLS_PER_SUBMIT, Math.floor(targetMs / Math.max(probeMs, 1e-3))));
}

/**
 * Time one call of `dispatches` (encoded as one compute pass): one warm-up call, one probe,
 * then repetitions filling `budgetMs`. Dispatches must be safe to repeat (they all are: a
 * repeated accumulate only grows values).
 */
export async function timeDispatches(engine: Engine, label: string, dispatches: readonly Dispatch[], options: TimingOptions = DEFAULT_TIMING): Promise<Timing> {
  const sampler = new DispatchSampler(engine, label, dispatches, !options.wallClockOnly && engine.ctx.hasTimestamps);
  try {
    await sampler.sample(1); // warm-up: first execution (lazy driver work, caches)
    const probe = await sampler.sample(1);
    const probeMs = probe.gpu[0] ?? probe.wall;
    const calls = callsPerSubmit(probe.wall, options.targetSubmitMs);
    const reps = repetitionsFor(probeMs * calls, options.budgetMs, options.minSamples, options.maxSamples);
    const wall: number[] = [probe.wall];
    const gpu: number[] = [...probe.gpu];
    for (let r = 0; r < reps; r++) {
      const s = await sampler.sample(calls);
      wall.push(s.wall);
      gpu.push(...s.gpu);
    }
    const wallMs = summarize(wall);
    return sampler.method === 'gpu-timestamps'
      ? { method: 'gpu-timestamps', ms: summarize(gpu), wallMs, callsPerSubmit: calls }
      : { method: 'wall-clock', ms: wallMs, wallMs, callsPerSubmit: calls };
  } finally {
    sampler.destroy();
  }
}
