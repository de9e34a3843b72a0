// The decoder warm-up's speed-up, measured: the same step with the encoder trained and frozen
// (options.freezeEncoder: no encoder backward, AdamW over the decoder side only), same weights,
// images and masks, timed interleaved in one run (benchVariants) so background load hits both
// alike. Reports dispatches and passes per step, wall and GPU step time, FLOPs and memory side
// by side, with the frozen/full ratio.
import type { Engine } from '../gpu/engine.ts';
import { bytes, formatTable, ms, num } from './format.ts';
import { benchVariants, type StepBenchResult, type StepBenchSettings } from './step-bench.ts';

export interface FreezeComparison {
  full: StepBenchResult;
  frozen: StepBenchResult;
}

export async function benchFreeze(engine: Engine, base: StepBenchSettings, log: (line: string) => void = () => {}): Promise<FreezeComparison> {
  const variants = [false, true].map((freezeEncoder) => ({ ...base, options: { ...base.options, freezeEncoder } }));
  const [full, frozen] = await benchVariants(engine, variants, (s) => (s.options.freezeEncoder ? ' (encoder frozen)' : ' (full)'), log);
  return { full: full!, frozen: frozen! };
}

/** The rows of the comparison: figure, full, frozen, frozen/full. */
function rows(c: FreezeComparison): { name: string; full: number; frozen: number; show: (v: number) => string }[] {
  const { full: a, frozen: b } = c;
  const out = [
    { name: 'dispatches per step', full: a.dispatchesPerStep, frozen: b.dispatchesPerStep, show: String },
    { name: 'compute passes per step', full: a.passesPerStep, frozen: b.passesPerStep, show: String },
    { name: 'step time, wall median (ms)', full: a.stepMs.median, frozen: b.stepMs.median, show: ms },
  ];
  if (a.gpuStepMs && b.gpuStepMs) out.push({ name: 'GPU time per step, median (ms)', full: a.gpuStepMs.median, frozen: b.gpuStepMs.median, show: ms });
  out.push(
    { name: 'images/s', full: a.imagesPerSecond, frozen: b.imagesPerSecond, show: num },
    { name: 'GFLOP per step', full: a.flops.total / 1e9, frozen: b.flops.total / 1e9, show: num },
    { name: 'backward GFLOP per step', full: a.flops.backward / 1e9, frozen: b.flops.backward / 1e9, show: num },
    { name: 'plan memory', full: a.memory.bytesAllocated, frozen: b.memory.bytesAllocated, show: bytes },
  );
  return out;
}

export function freezeReport(c: FreezeComparison): string {
  return formatTable(
    ['frozen encoder vs full step', 'full', 'frozen', 'frozen / full'],
    rows(c).map((r) => [r.name, r.show(r.full), r.show(r.frozen), (r.frozen / r.full).toFixed(3)]),
  );
}

export function freezeJson(c: FreezeComparison) {
  return Object.fromEntries(rows(c).map((r) => [r.name, { full: r.full, frozen: r.frozen, ratio: r.frozen / r.full }]));
}
