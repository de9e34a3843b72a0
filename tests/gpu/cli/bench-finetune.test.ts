// `bench --task finetune` end to end on a tiny model (speed itself is never asserted): the JSON
// document's figures are present and consistent, dispatch/pass counts and FLOPs are those of the
// plans built here in-process from the same settings (ClassifierPlan and FcmaePlan ledgers), the
// comparison's ratios are the results' own, and the text report prints the same figures.
import { describe, expect, it } from 'vitest';
import { ClassifierPlan } from '../../../src/model/classifier.ts';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { FcmaePlan } from '../../../src/model/fcmae.ts';
import type { PlanLedger } from '../../../src/model/ledger.ts';
import { ADAMW_DEFAULTS } from '../../../src/ops/adamw.ts';
import { keptCount } from '../../../src/train/masking.ts';
import { runCli } from '../../helpers/cli.ts';
import { testEngine } from '../../helpers/gpu.ts';

const DEPTHS = [1, 1, 1, 1];
const DIMS = [8, 16, 24, 32];
const SIZE = 64;
const BATCH = 2;
const CLASSES = 10;
const DECODER_DIM = 16;
const TINY = ['--depths', DEPTHS.join(','), '--dims', DIMS.join(','), '--input-size', String(SIZE), '--batch-size', String(BATCH), '--classes', String(CLASSES)];

interface Result {
  task: string;
  what: string;
  num_classes?: number;
  mask_ratio: number;
  visible_patches: number;
  patches: number;
  batch_size: number;
  steps: number;
  step_ms_median: number;
  step_ms_p10: number;
  step_ms_p90: number;
  step_ms_min: number;
  step_ms_max: number;
  images_per_second: number;
  gpu_step_ms_median: number | null;
  dispatches_per_step: number;
  passes_per_step: number;
  upload_ms: number;
  host_encode_ms: number;
  readback_wait_ms: number;
  phase_timing_method: string;
  phases: { phase: string; ms_median: number; gflop: number }[];
  dispatches: { phase: string; dispatch: string; kernel: string; ms: number }[];
  gpu_bytes_allocated: number;
  gpu_bytes_peak: number;
  gpu_buffers: number;
  gflop_per_step: number;
  gflop_forward: number;
  gflop_backward: number;
  gflop_optimizer: number;
  gflops_achieved: number;
  loss_first: number;
  loss_last: number;
}

interface Doc {
  task: string;
  command: string;
  results: Result[];
  comparison?: { finetune_vs_pretrain_step_time: number; finetune_vs_pretrain_gflop: number; finetune_vs_pretrain_peak_memory: number; finetune_vs_pretrain_dispatches: number };
}

type Phases = readonly { dispatches: readonly { workgroups: readonly number[] }[] }[];

/** What a plan's own ledger and phases say a training step is: dispatches (non-empty), passes, FLOPs, peak arena bytes. */
function planFigures(plan: { ledger(): PlanLedger; forwardPhases: Phases; backwardPhases: Phases; optimizerPhase: Phases[number]; arena: { peakBytes: number } }) {
  const ledger = plan.ledger();
  const phases = [...plan.forwardPhases, ...plan.backwardPhases, plan.optimizerPhase];
  const empty = phases.flatMap((p) => p.dispatches).filter((d) => !d.workgroups.every((w) => w > 0)).length;
  return { dispatches: ledger.dispatches.length - empty, passes: phases.length, flops: ledger.totalFlops, peakBytes: plan.arena.peakBytes };
}

function expectSaneStep(r: Result, steps: number): void {
  expect(r.what).toBe('training step');
  expect(r.batch_size).toBe(BATCH);
  expect(r.steps).toBe(steps);
  expect(r.step_ms_median).toBeGreaterThan(0);
  expect(r.step_ms_min).toBeLessThanOrEqual(r.step_ms_p10);
  expect(r.step_ms_p10).toBeLessThanOrEqual(r.step_ms_median);
  expect(r.step_ms_median).toBeLessThanOrEqual(r.step_ms_p90);
  expect(r.step_ms_p90).toBeLessThanOrEqual(r.step_ms_max);
  expect(r.images_per_second).toBeCloseTo((1000 * BATCH) / r.step_ms_median, 6);
  expect(r.gflops_achieved).toBeCloseTo(r.gflop_per_step / (r.step_ms_median / 1000), 6);
  expect(r.gflop_per_step).toBeCloseTo(r.gflop_forward + r.gflop_backward + r.gflop_optimizer, 12);
  expect(r.gflop_forward > 0 && r.gflop_backward > 0 && r.gflop_optimizer > 0).toBe(true);
  for (const t of [r.upload_ms, r.host_encode_ms, r.readback_wait_ms]) {
    expect(Number.isFinite(t) && t >= 0).toBe(true);
    expect(t).toBeLessThanOrEqual(r.step_ms_max);
  }
  expect(r.gpu_bytes_peak).toBeGreaterThan(0);
  expect(r.gpu_bytes_allocated).toBeLessThanOrEqual(r.gpu_bytes_peak);
  expect(Number.isFinite(r.loss_first) && Number.isFinite(r.loss_last)).toBe(true);
  if (r.phase_timing_method === 'gpu-timestamps') {
    expect(r.phases.length).toBe(r.passes_per_step);
    expect(r.phases.every((p) => p.ms_median >= 0)).toBe(true);
    expect(r.phases.reduce((a, p) => a + p.gflop, 0)).toBeCloseTo(r.gflop_per_step, 9);
    expect(r.dispatches.length).toBe(r.dispatches_per_step);
    expect(r.dispatches.every((d) => /\.wgsl:/.test(d.kernel) && d.ms >= 0)).toBe(true);
    expect(r.gpu_step_ms_median).toBeGreaterThan(0);
  }
}

describe('fcmae bench --task finetune', () => {
  it('times the classification step and the FCMAE step of the same encoder: figures match the plans built from the same settings', async () => {
    const steps = 3;
    const run = runCli(['bench', '--task', 'finetune', ...TINY, '--compare-pretrain', '--decoder-dim', String(DECODER_DIM), '--steps', String(steps), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as Doc;
    expect(doc.task).toBe('finetune');
    expect(doc.results.map((r) => r.task)).toEqual(['finetune', 'pretrain']);
    const [ft, pt] = doc.results as [Result, Result];
    for (const r of [ft, pt]) expectSaneStep(r, steps);
    // the classification encoder is dense: every patch visible; the FCMAE step keeps int(L·0.4)
    const L = (SIZE / 32) ** 2;
    expect([ft.mask_ratio, ft.visible_patches, ft.patches, ft.num_classes]).toEqual([0, L, L, CLASSES]);
    expect([pt.visible_patches, pt.patches]).toEqual([keptCount(L, 0.6), L]);
    // a loss from the random labels starts near ln K
    expect(Math.abs(ft.loss_first - Math.log(CLASSES))).toBeLessThan(1);

    const engine = await testEngine();
    const config = customConfig(DEPTHS, DIMS, DECODER_DIM, 1, true);
    const classifier = await ClassifierPlan.build(engine, config, { batchSize: BATCH, height: SIZE, width: SIZE, numClasses: CLASSES });
    const fcmae = await FcmaePlan.build(engine, config, { batchSize: BATCH, height: SIZE, width: SIZE, visible: keptCount(L, 0.6) }, DEFAULT_STEP_OPTIONS, ADAMW_DEFAULTS);
    try {
      for (const [r, plan] of [[ft, classifier], [pt, fcmae]] as const) {
        const want = planFigures(plan);
        expect(r.dispatches_per_step, r.task).toBe(want.dispatches);
        expect(r.passes_per_step, r.task).toBe(want.passes);
        expect(r.gflop_per_step * 1e9, r.task).toBeCloseTo(want.flops, 0);
        expect(r.gpu_bytes_peak, r.task).toBe(want.peakBytes);
      }
    } finally {
      classifier.destroy();
      fcmae.destroy();
    }

    const c = doc.comparison!;
    expect(c.finetune_vs_pretrain_step_time).toBeCloseTo(ft.step_ms_median / pt.step_ms_median, 12);
    expect(c.finetune_vs_pretrain_gflop).toBeCloseTo(ft.gflop_per_step / pt.gflop_per_step, 12);
    expect(c.finetune_vs_pretrain_peak_memory).toBeCloseTo(ft.gpu_bytes_peak / pt.gpu_bytes_peak, 12);
    expect(c.finetune_vs_pretrain_dispatches).toBeCloseTo(ft.dispatches_per_step / pt.dispatches_per_step, 12);
  });

  it('prints the classification step report with the same figures as its JSON', () => {
    const run = runCli(['bench', '--task', 'finetune', ...TINY, '--steps', '1', '--warmup', '0', '--phase-timing', 'off']);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(new RegExp(`^classification training step \\(fine-tuning\\): depths 1,1,1,1 dims 8,16,24,32, ${SIZE}×${SIZE} px, batch ${BATCH}, ${CLASSES} classes, drop path off`));
    const median = Number(out.match(/step time \(wall, upload to loss on host\): median ([\d.]+) ms/)?.[1]);
    expect(median).toBeGreaterThan(0);
    const imagesPerSecond = Number(out.match(/; ([\d.]+) images\/s/)?.[1]);
    expect(imagesPerSecond).toBeGreaterThan(0);
    expect(out).toMatch(/per step: \d+ dispatches in \d+ compute passes/);
    expect(out).toMatch(/FLOPs per step: [\d.e+-]+ GFLOP \(forward/);
    expect(out).toMatch(/GPU memory: [\d.]+ (KiB|MiB|GiB) allocated by the plan/);
    expect(out).toContain('phase times: not measured');
    // no comparison asked: no FCMAE report
    expect(out).not.toMatch(/FCMAE/);
  });

  it('refuses flags of the other task, naming them', () => {
    for (const [args, message] of [
      [['--task', 'finetune', '--sweep', '0,0.5'], /--sweep does not go with --task finetune/],
      [['--task', 'finetune', '--mask-ratio', '0.5'], /--mask-ratio sets the FCMAE step of --compare-pretrain/],
      [['--task', 'finetune', '--phase-timing', 'prefix'], /--phase-timing prefix: --task finetune times phases with GPU timestamps only/],
      [['--classes', '10'], /--classes goes with --task finetune/],
      [['--task', 'classify'], /--task classify: expected one of pretrain, finetune/],
    ] as const) {
      const r = runCli(['bench', ...args, '--steps', '1']);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
