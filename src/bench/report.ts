// Readable reports of benchmark results (the CLI and the browser page print the same text).
// "±x%" everywhere is half the p10–p90 range relative to the median.
import { bytes, formatTable, ms, num, spread } from './format.ts';
import type { KernelResult } from './kernel-suite.ts';
import type { PeerComparison, StepBenchResult } from './step-bench.ts';
import { describeVisible, formatMaskRatio } from '../train/masking.ts';

export interface MatmulComparison {
  n: number;
  flops: number;
  oursMs: number;
  oursSpread: number;
  /** Our wall-clock median (same method as TF.js's). */
  oursWallMs: number;
  tfjsMs: number;
  tfjsSpread: number;
  /** TF.js wall median / our wall median. */
  speedup: number;
}

const ratioLabel = (r: number | null) => (r === null ? '-' : String(r));

/** The sweep's reference row: the dense one (every patch visible) when present, else the first. */
const sweepBase = (results: StepBenchResult[]) => results.find((r) => r.visiblePatches === r.patches) ?? results[0]!;

export function kernelTable(rows: KernelResult[]): string {
  return formatTable(
    ['family', 'kernel', 'ratio', 'shape', 'ms', 'spread', 'throughput', 'unit', 'wall ms', 'calls/submit'],
    rows.map((r) => [r.family, r.name, ratioLabel(r.maskRatio), r.shape, ms(r.timing.ms.median), spread(r.timing.ms.relSpread), num(r.throughput), r.unit, ms(r.timing.wallMs.median), String(r.timing.callsPerSubmit)]),
    4,
  );
}

export function matmulComparisonTable(rows: MatmulComparison[]): string {
  return formatTable(
    ['matmul', 'ours ms', 'ours GFLOP/s', 'ours wall ms', 'TF.js ms', 'TF.js GFLOP/s', 'ours/TF.js speed'],
    rows.map((r) => [`${r.n}³`, `${ms(r.oursMs)} ${spread(r.oursSpread)}`, num(r.flops / r.oursMs / 1e6), ms(r.oursWallMs), `${ms(r.tfjsMs)} ${spread(r.tfjsSpread)}`, num(r.flops / r.tfjsMs / 1e6), `${num(r.speedup)}×`]),
  );
}

/** Phases folded into the groups the issue names: stem, each stage (with its downsample), decoder, loss, backward, optimizer. */
export function phaseGroups(r: StepBenchResult): { name: string; ms: number; flops: number }[] {
  const groups = new Map<string, { ms: number; flops: number }>();
  for (const p of r.phases) {
    let g: string;
    if (p.name.endsWith(' backward')) g = 'backward (all)';
    else if (p.name === 'optimizer') g = 'optimizer';
    else if (p.name.startsWith('downsample ')) g = `stage ${p.name.slice('downsample '.length)}`;
    else g = p.name;
    const e = groups.get(g) ?? { ms: 0, flops: 0 };
    e.ms += p.ms;
    e.flops += p.flops;
    groups.set(g, e);
  }
  return [...groups].map(([name, v]) => ({ name, ...v }));
}

export function stepReport(r: StepBenchResult, adapter: string): string {
  const lines: string[] = [];
  lines.push(`FCMAE ${r.what}: ${r.model}, ${r.height}×${r.width} px, batch ${r.batchSize}, ${describeVisible(r.patches, r.visiblePatches)}`);
  lines.push(`adapter: ${adapter}`);
  const s = r.stepMs;
  lines.push(`step time (wall, upload to loss on host): median ${ms(s.median)} ms ${spread(s.relSpread)} (min ${ms(s.min)}, max ${ms(s.max)}, n = ${s.n}); ${num(r.imagesPerSecond)} images/s`);
  if (r.gpuStepMs) lines.push(`GPU time per step (sum of phase timestamps): median ${ms(r.gpuStepMs.median)} ms ${spread(r.gpuStepMs.relSpread)}`);
  if (r.pipelined.length) lines.push(pipelinedLine(r));
  lines.push(`per step: ${r.dispatchesPerStep} dispatches in ${r.passesPerStep} compute passes; host medians: upload ${ms(r.host.uploadMs.median)} ms, encode + submit ${ms(r.host.encodeMs.median)} ms, wait for the loss ${ms(r.host.readbackWaitMs.median)} ms`);
  const f = r.flops;
  lines.push(`FLOPs per step: ${num(f.total / 1e9)} GFLOP (forward ${num(f.forward / 1e9)}, backward ${num(f.backward / 1e9)}, optimizer ${num(f.optimizer / 1e9)}; matmul+conv ${num(f.matmulAndConv / 1e9)}); achieved ${num(r.gflopsAchieved)} GFLOP/s on the wall time`);
  lines.push(`GPU memory: ${bytes(r.memory.bytesAllocated)} allocated by the plan (peak ${bytes(r.memory.peakBytes)}, ${r.memory.buffers} buffers)`);
  lines.push(`loss: first timed step ${r.firstLoss.toPrecision(6)}, last ${r.lastLoss.toPrecision(6)}`);
  if (r.phaseMethod === 'off' || r.phases.length === 0) {
    lines.push('phase times: not measured');
    return lines.join('\n');
  }
  const total = r.phases.reduce((a, p) => a + p.ms, 0);
  const method = r.phaseMethod === 'gpu-timestamps' ? 'GPU timestamps, one compute pass per phase' : 'wall-clock medians of growing phase prefixes, differenced: noisy, a negative time is noise';
  lines.push('', `time per phase (${method}):`);
  lines.push(
    formatTable(
      ['phase', 'ms', '% step', 'GFLOP', 'GFLOP/s'],
      r.phases.map((p) => [p.name, ms(p.ms), `${((100 * p.ms) / total).toFixed(1)}%`, num(p.flops / 1e9), num(p.gflops)]),
    ),
  );
  lines.push('', 'grouped:');
  lines.push(
    formatTable(
      ['group', 'ms', '% step', 'GFLOP/s'],
      phaseGroups(r).map((g) => [g.name, ms(g.ms), `${((100 * g.ms) / total).toFixed(1)}%`, num(g.ms > 0 ? g.flops / g.ms / 1e6 : 0)]),
    ),
  );
  const profile = dispatchReport(r);
  if (profile) lines.push('', profile);
  return lines.join('\n');
}

/** The pipelined throughput beside the one-at-a-time figure: ms per step and images/s at each depth. */
export function pipelinedLine(r: StepBenchResult): string {
  const one = r.pipelined.find((p) => p.depth === 1);
  const parts = r.pipelined.map((p) => {
    const vs = one && p.depth !== 1 ? `, ${(p.stepMs.median / one.stepMs.median).toFixed(3)}× depth 1` : '';
    return `${p.depth} in flight ${ms(p.stepMs.median)} ms/step (${num(p.imagesPerSecond)} images/s${vs})`;
  });
  return `throughput through the training loop (steady state, median of ${r.pipelined[0]!.stepMs.n} rounds): ${parts.join('; ')}`;
}

/** Dispatch time summed by kernel (pipeline), largest first, and the largest single dispatches. */
export function dispatchReport(r: StepBenchResult, top = 12): string {
  if (!r.dispatches.length) return '';
  const total = r.dispatches.reduce((a, d) => a + d.ms, 0);
  const byKernel = new Map<string, { ms: number; count: number }>();
  for (const d of r.dispatches) {
    const e = byKernel.get(d.kernel) ?? { ms: 0, count: 0 };
    e.ms += d.ms;
    e.count += 1;
    byKernel.set(d.kernel, e);
  }
  const kernels = [...byKernel].sort((a, b) => b[1].ms - a[1].ms);
  const largest = [...r.dispatches].sort((a, b) => b.ms - a.ms).slice(0, top);
  return [
    `where the time goes (one extra step, each of its ${r.dispatches.length} dispatches in its own timestamped pass; total ${ms(total)} ms):`,
    formatTable(
      ['kernel (shader:entry point)', 'dispatches', 'ms', '% total'],
      kernels.map(([k, v]) => [k, String(v.count), ms(v.ms), `${((100 * v.ms) / total).toFixed(1)}%`]),
    ),
    '',
    `largest ${largest.length} dispatches:`,
    formatTable(
      ['dispatch', 'phase', 'kernel', 'workgroups', 'ms', '% total'],
      largest.map((d) => [d.label, d.phase, d.kernel, d.workgroups.join('×'), ms(d.ms), `${((100 * d.ms) / total).toFixed(1)}%`]),
      3,
    ),
  ].join('\n');
}

export function sweepTable(results: StepBenchResult[]): string {
  const base = sweepBase(results);
  const baseLabel = formatMaskRatio(base.maskRatio);
  return formatTable(
    ['mask ratio', 'visible', 'step ms', 'spread', 'vs ratio ' + baseLabel, 'FLOPs vs ratio ' + baseLabel, 'GPU ms', 'images/s', 'memory'],
    results.map((r) => [
      formatMaskRatio(r.maskRatio),
      `${r.visiblePatches}/${r.patches}`,
      ms(r.stepMs.median),
      spread(r.stepMs.relSpread),
      num(r.stepMs.median / base.stepMs.median),
      num(r.flops.total / base.flops.total),
      r.gpuStepMs ? ms(r.gpuStepMs.median) : '-',
      num(r.imagesPerSecond),
      bytes(r.memory.peakBytes),
    ]),
  );
}

export function peerReport(p: PeerComparison, adapter: string): string {
  const s = p.settings;
  return [
    `FCMAE training step vs TensorFlow.js (WebGPU backend): ${s.model}, ${s.height}×${s.width} px, batch ${s.batchSize}, ${describeVisible(s.patches, s.visiblePatches)}`,
    `adapters: ours ${adapter}; TF.js ${p.tfjsAdapter}`,
    `loss check (same weights and batch): ours ${p.loss.ours.toPrecision(7)}, TF.js ${p.loss.tfjs.toPrecision(7)}, relative difference ${p.loss.relDiff.toExponential(2)}; per-parameter gradient norms within ${p.gradNormMaxRelDiff.value.toExponential(2)} (worst ${p.gradNormMaxRelDiff.parameter})`,
    formatTable(
      ['implementation', 'step ms (median)', 'spread', 'min', 'max', 'n'],
      [
        ['ours (sparse WGSL)', ms(p.ours.median), spread(p.ours.relSpread), ms(p.ours.min), ms(p.ours.max), String(p.ours.n)],
        ['TF.js WebGPU (dense-equivalent)', ms(p.tfjs.median), spread(p.tfjs.relSpread), ms(p.tfjs.min), ms(p.tfjs.max), String(p.tfjs.n)],
      ],
    ),
    `speed ratio: ours is ${num(p.speedup)}× as fast as TF.js (step time TF.js / ours, medians; steps interleaved)` + (p.tfjsMemoryBytes !== null ? `; TF.js holds ${bytes(p.tfjsMemoryBytes)} of GPU buffers` : ''),
  ].join('\n');
}

// ---- JSON documents: figures named plainly (step_ms_median, …), the same from the CLI and the page

export function kernelJson(r: KernelResult) {
  return {
    family: r.family,
    kernel: r.name,
    mask_ratio: r.maskRatio,
    shape: r.shape,
    ms_median: r.timing.ms.median,
    ms_p10: r.timing.ms.p10,
    ms_p90: r.timing.ms.p90,
    samples: r.timing.ms.n,
    wall_ms_median: r.timing.wallMs.median,
    timing_method: r.timing.method,
    calls_per_submit: r.timing.callsPerSubmit,
    throughput: r.throughput,
    throughput_unit: r.unit,
    work: r.work,
  };
}

export function stepResultJson(r: StepBenchResult) {
  return {
    model: r.model,
    what: r.what,
    batch_size: r.batchSize,
    input_size: [r.height, r.width],
    mask_ratio: r.maskRatio,
    visible_patches: r.visiblePatches,
    patches: r.patches,
    steps: r.steps,
    step_ms_median: r.stepMs.median,
    step_ms_p10: r.stepMs.p10,
    step_ms_p90: r.stepMs.p90,
    step_ms_min: r.stepMs.min,
    step_ms_max: r.stepMs.max,
    step_ms_mad: r.stepMs.mad,
    images_per_second: r.imagesPerSecond,
    gpu_step_ms_median: r.gpuStepMs?.median ?? null,
    dispatches_per_step: r.dispatchesPerStep,
    passes_per_step: r.passesPerStep,
    upload_ms: r.host.uploadMs.median,
    host_encode_ms: r.host.encodeMs.median,
    readback_wait_ms: r.host.readbackWaitMs.median,
    phase_timing_method: r.phaseMethod,
    phases: r.phases.map((p) => ({ phase: p.name, ms_median: p.ms, gflop: p.flops / 1e9, gflops: p.gflops })),
    dispatches: r.dispatches.map((d) => ({ phase: d.phase, dispatch: d.label, kernel: d.kernel, workgroups: d.workgroups, ms: d.ms })),
    gpu_bytes_allocated: r.memory.bytesAllocated,
    gpu_bytes_peak: r.memory.peakBytes,
    gpu_buffers: r.memory.buffers,
    gflop_per_step: r.flops.total / 1e9,
    gflop_forward: r.flops.forward / 1e9,
    gflop_backward: r.flops.backward / 1e9,
    gflop_optimizer: r.flops.optimizer / 1e9,
    gflops_achieved: r.gflopsAchieved,
    loss_first: r.firstLoss,
    loss_last: r.lastLoss,
    // steady-state throughput with N steps in flight, keyed by N (depth 1 measured the same way)
    pipelined_step_ms: r.pipelined.length ? Object.fromEntries(r.pipelined.map((p) => [String(p.depth), p.stepMs.median])) : undefined,
    pipelined_images_per_second: r.pipelined.length ? Object.fromEntries(r.pipelined.map((p) => [String(p.depth), p.imagesPerSecond])) : undefined,
  };
}

export function peerJson(p: PeerComparison) {
  return {
    ...p.settings,
    tfjs_adapter: p.tfjsAdapter,
    loss_ours: p.loss.ours,
    loss_tfjs: p.loss.tfjs,
    loss_rel_diff: p.loss.relDiff,
    grad_norm_max_rel_diff: p.gradNormMaxRelDiff.value,
    grad_norm_worst_parameter: p.gradNormMaxRelDiff.parameter,
    ours_step_ms_median: p.ours.median,
    ours_step_ms_p10: p.ours.p10,
    ours_step_ms_p90: p.ours.p90,
    tfjs_step_ms_median: p.tfjs.median,
    tfjs_step_ms_p10: p.tfjs.p10,
    tfjs_step_ms_p90: p.tfjs.p90,
    speedup_vs_tfjs: p.speedup,
    tfjs_gpu_bytes: p.tfjsMemoryBytes,
  };
}

export function sweepJson(results: StepBenchResult[]) {
  const base = sweepBase(results);
  return results.map((r) => ({ mask_ratio: r.maskRatio, visible_patches: r.visiblePatches, patches: r.patches, step_ms_median: r.stepMs.median, step_time_vs_ratio0: r.stepMs.median / base.stepMs.median, gflop_vs_ratio0: r.flops.total / base.flops.total }));
}

export function matmulJson(m: MatmulComparison) {
  return { n: m.n, ours_ms_median: m.oursMs, ours_wall_ms_median: m.oursWallMs, tfjs_ms_median: m.tfjsMs, ours_gflops: m.flops / m.oursWallMs / 1e6, tfjs_gflops: m.flops / m.tfjsMs / 1e6, speedup_vs_tfjs: m.speedup };
}
