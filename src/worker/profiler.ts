// GPU time per phase of a training step, from timestamp queries (when the adapter offers the
// 'timestamp-query' feature). The plan's phases (stem, stages, decoder, loss, their backward,
// the optimizer) are encoded as one compute pass each with timestampWrites at both ends; the
// timestamps are resolved into a buffer and read back with the loss, without a stall.
// Browsers quantise timestamps (100 µs in Chrome without developer flags): short phases read 0.
import { encodeDispatches } from '../gpu/dispatch.ts';
import type { PendingRead } from '../gpu/buffers.ts';
import type { Engine } from '../gpu/engine.ts';
import type { FcmaePlan, Phase } from '../model/fcmae.ts';

const QUERY_RESOLVE = 0x200;
const COPY_SRC = 0x4;

export class PhaseProfiler {
  readonly names: string[];
  private readonly phases: Phase[];
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer; // (2·phases) u64 nanoseconds

  private constructor(
    private readonly engine: Engine,
    plan: FcmaePlan,
  ) {
    this.phases = [...plan.forwardPhases, ...plan.backwardPhases, plan.optimizerPhase];
    this.names = this.phases.map((p) => p.name);
    const count = 2 * this.phases.length;
    const device = engine.ctx.device;
    this.querySet = device.createQuerySet({ type: 'timestamp', count, label: 'phase-timestamps' });
    this.resolveBuffer = device.createBuffer({ label: 'phase-timestamps-resolve', size: count * 8, usage: QUERY_RESOLVE | COPY_SRC });
  }

  /** Null when the device has no timestamp queries. */
  static create(engine: Engine, plan: FcmaePlan): PhaseProfiler | null {
    if (!engine.ctx.hasTimestamps) return null;
    return new PhaseProfiler(engine, plan);
  }

  /** Encodes the whole training step (forward, backward, optimizer) with timestamps. */
  encodeStep(encoder: GPUCommandEncoder): void {
    this.phases.forEach((phase, i) => {
      const pass = encoder.beginComputePass({
        label: phase.name,
        timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      encodeDispatches(pass, phase.dispatches);
      pass.end();
    });
  }

  /** Resolves the timestamps into a readback (call after encodeStep, read after submit). */
  resolve(encoder: GPUCommandEncoder): { read(): Promise<Float32Array> } {
    const count = 2 * this.phases.length;
    encoder.resolveQuerySet(this.querySet, 0, count, this.resolveBuffer, 0);
    const pending: PendingRead = this.engine.readback.copy(encoder, this.resolveBuffer, 0, count * 8);
    return {
      read: async () => {
        const ns = new BigUint64Array(await pending.read());
        const ms = new Float32Array(this.phases.length);
        for (let i = 0; i < ms.length; i++) {
          const begin = ns[2 * i]!;
          const end = ns[2 * i + 1]!;
          ms[i] = end > begin ? Number(end - begin) / 1e6 : 0;
        }
        return ms;
      },
    };
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}
