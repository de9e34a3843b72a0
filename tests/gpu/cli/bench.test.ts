// The `bench` command end to end, on a tiny model (speed itself is never asserted: benchmarks
// measure, tests check that what they print is consistent and that the timed step is the
// right step). Checks the JSON document of a mask-ratio sweep, that `--checkpoint --batch`
// times exactly the step whose loss PyTorch computed, and that the TF.js peer agrees on the loss.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const TINY = ['--depths', '1,1,1,1', '--dims', '8,16,24,32', '--decoder-dim', '16', '--input-size', '64'];

interface StepResult {
  what: string;
  mask_ratio: number;
  visible_patches: number;
  patches: number;
  steps: number;
  step_ms_median: number;
  step_ms_p10: number;
  step_ms_p90: number;
  images_per_second: number;
  batch_size: number;
  gpu_step_ms_median: number | null;
  step_ms_max: number;
  dispatches_per_step: number;
  passes_per_step: number;
  upload_ms: number;
  host_encode_ms: number;
  readback_wait_ms: number;
  phase_timing_method: string;
  phases: { phase: string; ms_median: number; gflop: number }[];
  dispatches: { phase: string; dispatch: string; kernel: string; ms: number }[];
  gpu_bytes_peak: number;
  gflop_per_step: number;
  loss_first: number;
  loss_last: number;
  pipelined_step_ms?: Record<string, number>;
  pipelined_images_per_second?: Record<string, number>;
}

function bench(args: string[]): { results: StepResult[]; sweep?: { mask_ratio: number; step_time_vs_ratio0: number; gflop_vs_ratio0: number }[]; peer?: Record<string, number | string>[] } {
  const r = runCli(['bench', ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('fcmae bench', () => {
  it('--freeze-encoder: the frozen step beside the full one, fewer dispatches, FLOPs and bytes, the same first loss', () => {
    const r = runCli(['bench', ...TINY, '--batch-size', '1', '--mask-ratio', '0.5', '--steps', '2', '--warmup', '1', '--phase-timing', 'off', '--freeze-encoder', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { results: StepResult[]; freeze: Record<string, { full: number; frozen: number; ratio: number }> };
    const [full, frozen] = doc.results;
    expect([full!.what, frozen!.what]).toEqual(['training step', 'training step, encoder frozen']);
    expect(frozen!.dispatches_per_step).toBeLessThan(full!.dispatches_per_step);
    expect(frozen!.gflop_per_step).toBeLessThan(full!.gflop_per_step);
    expect(doc.freeze['dispatches per step']).toEqual({ full: full!.dispatches_per_step, frozen: frozen!.dispatches_per_step, ratio: frozen!.dispatches_per_step / full!.dispatches_per_step });
    expect(doc.freeze['plan memory']!.ratio).toBeLessThan(1);
    expect(doc.freeze['step time, wall median (ms)']!.full).toBe(full!.step_ms_median);
    // same weights, images and masks: the same forward; the steps differ only in what they update
    expect(frozen!.loss_first).toBeCloseTo(full!.loss_first, 4);
    const bad = runCli(['bench', ...TINY, '--sweep', '0,0.5', '--freeze-encoder']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--sweep does not go with --freeze-encoder/);
  }, 300_000);

  it('mask-ratio sweep: a consistent JSON document, and sparsity cuts FLOPs and memory', () => {
    const doc = bench([...TINY, '--batch-size', '1', '--sweep', '0,0.5', '--steps', '2', '--warmup', '1']);
    expect(doc.results.map((r) => [r.mask_ratio, r.visible_patches, r.patches])).toEqual([[0, 4, 4], [0.5, 2, 4]]);
    for (const r of doc.results) {
      expect(r.what).toBe('training step');
      expect(r.steps).toBe(2);
      expect(r.step_ms_p10).toBeLessThanOrEqual(r.step_ms_median);
      expect(r.step_ms_median).toBeLessThanOrEqual(r.step_ms_p90);
      expect(r.images_per_second).toBeCloseTo((1000 * r.batch_size) / r.step_ms_median, 6);
      expect(Number.isFinite(r.loss_first) && Number.isFinite(r.loss_last)).toBe(true);
      // the fixed cost of a step: dispatch and pass counts, and the host's share of the wall time
      expect(Number.isInteger(r.dispatches_per_step) && r.dispatches_per_step > 50).toBe(true);
      expect(Number.isInteger(r.passes_per_step) && r.passes_per_step >= 10 && r.passes_per_step < r.dispatches_per_step).toBe(true);
      for (const t of [r.upload_ms, r.host_encode_ms, r.readback_wait_ms]) {
        expect(Number.isFinite(t) && t >= 0).toBe(true);
        expect(t).toBeLessThanOrEqual(r.step_ms_max);
      }
      // waiting for the loss includes the GPU work: it is most of a step on any adapter
      expect(r.readback_wait_ms).toBeGreaterThan(r.upload_ms);
      if (r.phase_timing_method === 'gpu-timestamps') {
        // one pass per phase; the profile times exactly the dispatches a step encodes
        expect(r.passes_per_step).toBe(r.phases.length);
        expect(r.dispatches.length).toBe(r.dispatches_per_step);
        // every phase of the plan timed, and every dispatch of one step profiled
        expect(r.phases.map((p) => p.phase)).toEqual(expect.arrayContaining(['stem', 'stage 0', 'decoder', 'loss', 'optimizer']));
        expect(r.phases.every((p) => p.ms_median >= 0)).toBe(true);
        expect(r.dispatches.every((d) => /\.wgsl:/.test(d.kernel) && d.ms >= 0)).toBe(true);
        expect(r.dispatches.length).toBeGreaterThan(50);
        expect(r.gpu_step_ms_median).toBeGreaterThan(0);
      }
    }
    const [dense, sparse] = doc.results as [StepResult, StepResult];
    expect(sparse.gflop_per_step).toBeLessThan(dense.gflop_per_step);
    expect(sparse.gpu_bytes_peak).toBeLessThan(dense.gpu_bytes_peak);
    expect(doc.sweep!.map((s) => s.mask_ratio)).toEqual([0, 0.5]);
    expect(doc.sweep![1]!.gflop_vs_ratio0).toBeCloseTo(sparse.gflop_per_step / dense.gflop_per_step, 12);
    expect(doc.sweep![1]!.step_time_vs_ratio0).toBeCloseTo(sparse.step_ms_median / dense.step_ms_median, 12);
    // the pipelined throughput by default at 2 and 3 steps in flight, beside depth 1
    for (const r of doc.results) {
      expect(Object.keys(r.pipelined_step_ms!)).toEqual(['1', '2', '3']);
      for (const [depth, ms] of Object.entries(r.pipelined_step_ms!)) {
        expect(ms).toBeGreaterThan(0);
        expect(r.pipelined_images_per_second![depth]).toBeCloseTo((1000 * r.batch_size) / ms, 9);
      }
    }
  });

  it('--in-flight: the depths asked for (or none with off), and a clear error for a bad list', () => {
    const one = bench([...TINY, '--batch-size', '2', '--mask-ratio', '0.5', '--steps', '1', '--warmup', '0', '--phase-timing', 'off', '--in-flight', '4']).results[0]!;
    expect(Object.keys(one.pipelined_step_ms!)).toEqual(['1', '4']);
    expect(one.pipelined_images_per_second!['4']).toBeCloseTo(2000 / one.pipelined_step_ms!['4']!, 9);
    const off = bench([...TINY, '--batch-size', '1', '--mask-ratio', '0.5', '--steps', '1', '--warmup', '0', '--phase-timing', 'off', '--in-flight', 'off']).results[0]!;
    expect(off.pipelined_step_ms).toBeUndefined();
    expect(off.pipelined_images_per_second).toBeUndefined();
    for (const [bad, message] of [['1', /--in-flight 1: expected depths from 2 to 8/], ['2,x', /--in-flight 2,x: expected depths/], ['3,3', /--in-flight 3,3: .*repeated/], ['9', /--in-flight 9: expected depths from 2 to 8/]] as const) {
      const r = runCli(['bench', ...TINY, '--in-flight', bad]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  }, 300_000);

  it('--checkpoint --batch times the gradient step of the grads command: same loss as PyTorch', () => {
    const base = join(FIXTURE_DIR, 'model', 'base');
    const expected = JSON.parse(readFileSync(join(base, 'expected.json'), 'utf8')) as { loss: number; mask_ratio: number };
    const doc = bench(['--checkpoint', join(base, 'weights.safetensors'), '--batch', join(base, 'batch.safetensors'), '--steps', '2', '--in-flight', 'off']);
    const r = doc.results[0]!;
    expect(r.what).toMatch(/^gradients/);
    expect(r.mask_ratio).toBe(expected.mask_ratio);
    // no optimizer step: every timed step sees the same weights, so the same loss
    // (f32 engine vs f64 reference: 1e-4 relative, as in the parity test)
    for (const loss of [r.loss_first, r.loss_last]) expect(Math.abs(loss - expected.loss) / expected.loss).toBeLessThan(1e-4);
  });

  it('--checkpoint --batch times batches whose visible count does not round-trip a ratio (3 of 9, 27 of 49)', () => {
    for (const [name, visible, patches] of [['keep3of9', 3, 9], ['keep27of49', 27, 49]] as const) {
      const dir = join(FIXTURE_DIR, 'model', name);
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { loss: number };
      const r = bench(['--checkpoint', join(dir, 'weights.safetensors'), '--batch', join(dir, 'batch.safetensors'), '--steps', '1', '--warmup', '0', '--phase-timing', 'off', '--in-flight', 'off']).results[0]!;
      expect([r.visible_patches, r.patches], name).toEqual([visible, patches]);
      expect(r.mask_ratio).toBeCloseTo(1 - visible / patches, 12);
      expect(Math.abs(r.loss_first - expected.loss) / expected.loss, name).toBeLessThan(1e-4);
    }
  });

  it('refuses, before allocating, a batch whose buffers exceed the adapter, naming the buffer and the estimate', () => {
    const r = runCli(['bench', '--depths', '1,1,1,1', '--dims', '8,16,24,32', '--decoder-dim', '16', '--input-size', '1024', '--batch-size', '256', '--steps', '1'], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    // 256 images of 1024² px: the image buffer alone is 3 GiB, over SwiftShader's 1 GiB per buffer
    expect(r.stderr).toMatch(/fcmae bench: batch 256 of 1024×1024 images does not fit this adapter: buffer \S+ needs [\d.]+ GiB, above this adapter's [\d.]+ (GiB|MiB) per buffer: lower the batch size or input size \(the plan needs [\d.]+ GiB in all\)/);
    expect(r.stderr).not.toMatch(/Invalid Buffer|validation/);
  });

  it('--peer tfjs: the TF.js step starts from the same weights and batch and agrees on the loss', () => {
    const doc = bench([...TINY, '--batch-size', '2', '--mask-ratio', '0.5', '--steps', '1', '--in-flight', 'off', '--peer', 'tfjs']);
    const p = doc.peer![0]!;
    expect(p.loss_rel_diff as number).toBeLessThan(1e-4);
    expect(p.grad_norm_max_rel_diff as number).toBeLessThan(1e-3);
    expect(p.speedup_vs_tfjs as number).toBeCloseTo((p.tfjs_step_ms_median as number) / (p.ours_step_ms_median as number), 9);
  });
});
