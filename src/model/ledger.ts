// A plan's ledger: every buffer its arena created (name, bytes as allocated) and every dispatch
// of its phases (phase, label, kernel, FLOPs as the op builders count them: conventions in
// src/ops/flop-conventions.ts). Read from the built plan, so the hand-kept estimates
// (src/train/estimates.ts memoryEstimate, src/train/flops.ts fcmaeStepFlops) can be checked
// against it and the bench can report it.
import type { BufferArena } from '../gpu/buffers.ts';
import type { Dispatch } from '../gpu/dispatch.ts';

export interface LedgerBuffer {
  /** The arena label without the arena's prefix, e.g. 'encoder.stages.0.0/h'. */
  name: string;
  bytes: number;
}

export interface LedgerDispatch {
  phase: string;
  label: string;
  /** Its pipeline: shader file and entry point, e.g. 'matmul.wgsl:main'. */
  kernel: string;
  flops: number;
}

export interface PlanLedger {
  buffers: LedgerBuffer[];
  /** In encoding order. */
  dispatches: LedgerDispatch[];
  totalBytes: number;
  /** FLOPs per phase name, in phase order. */
  flopsByPhase: Map<string, number>;
  totalFlops: number;
}

/** The ledger of `arena`'s buffers and the dispatches of `phases` (in the order given). */
export function planLedger(arena: BufferArena, phases: readonly { name: string; dispatches: readonly Dispatch[] }[]): PlanLedger {
  const buffers = arena.entries().map((e) => ({ name: e.label, bytes: e.bytes }));
  const dispatches: LedgerDispatch[] = [];
  const flopsByPhase = new Map<string, number>();
  let totalFlops = 0;
  for (const phase of phases) {
    let sum = flopsByPhase.get(phase.name) ?? 0;
    for (const d of phase.dispatches) {
      dispatches.push({ phase: phase.name, label: d.label, kernel: d.pipeline.label, flops: d.flops });
      sum += d.flops;
      totalFlops += d.flops;
    }
    flopsByPhase.set(phase.name, sum);
  }
  return { buffers, dispatches, totalBytes: buffers.reduce((a, b) => a + b.bytes, 0), flopsByPhase, totalFlops };
}
