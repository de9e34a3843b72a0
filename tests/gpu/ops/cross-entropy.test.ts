// Softmax cross-entropy with label smoothing (shaders/cross-entropy.wgsl) against the float64
// reference (src/reference/cross-entropy.ts, itself checked against torch) on random logits,
// and against the PyTorch fixture directly (tests/reference/gen_cross_entropy.py). Both row
// passes ('serial', 'workgroup'); K = 1 … 1001, N = 1 … 70, ε = 0, 0.1, 0.2; labels outside
// [0, K) (loss 0, zero gradient row, no out-of-bounds access); a gradient scale.
import { describe, expect, it } from 'vitest';
import { crossEntropyBackward, crossEntropyForward } from '../../../src/ops/cross-entropy.ts';
import { crossEntropyRef } from '../../../src/reference/cross-entropy.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

type Plan = 'serial' | 'workgroup';

interface Got {
  loss: number;
  perSample: Float32Array;
  dLogits: Float32Array;
}

async function runKernel(logits: Float32Array, labels: Int32Array, N: number, K: number, smoothing: number, plan: Plan, scale?: number): Promise<Got> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const logitsBuf = arena.fromData('logits', logits);
  const labelsBuf = arena.fromData('labels', labels);
  const loss = arena.fromData('loss', Float32Array.of(123)); // must be overwritten
  const perSample = arena.fromData('per-sample', new Float32Array(N).fill(123));
  const dLogits = arena.fromData('dLogits', new Float32Array(N * K).fill(123));
  const shape = { N, K, smoothing, plan };
  await run(engine, [
    ...(await crossEntropyForward(engine, arena, 'ce', { logits: logitsBuf, labels: labelsBuf, loss, perSample }, shape)),
    ...(await crossEntropyBackward(engine, arena, 'ce-bwd', { logits: logitsBuf, labels: labelsBuf, dLogits }, { ...shape, scale })),
  ]);
  const got = { loss: (await readF32(engine, loss, 1))[0]!, perSample: await readF32(engine, perSample, N), dLogits: await readF32(engine, dLogits, N * K) };
  arena.destroy();
  return got;
}

/**
 * f32 kernel vs float64 on the same (f32) logits. ℓ_n ≤ ~log K + spread: its three
 * non-negative terms carry ~1e-6 relative (sums of K exps and of K shifted logits).
 * dLogits: exp of x' − lse' with ulp-level errors, then − target and ·1/N.
 */
function compare(got: Got, want: ReturnType<typeof crossEntropyRef>, N: number, K: number, tag: string): void {
  expectAllClose([got.loss], [want.loss], { atol: 1e-5, rtol: 2e-6, label: `loss ${tag}` });
  expectAllClose(got.perSample, want.perSample, { atol: 1e-5, rtol: 2e-6, label: `perSample ${tag}` });
  expectAllClose(got.dLogits, want.dLogits, { atol: 2e-7 / N, rtol: 1e-5, label: `dLogits ${tag}`, shape: [N, K] });
}

for (const plan of ['serial', 'workgroup'] as const) {
  describe(`cross-entropy (${plan} row pass) vs float64 reference`, () => {
    for (const [N, K, smoothing, spread] of [
      [1, 1, 0.2, 1],
      [2, 3, 0.1, 2],
      [5, 7, 0, 3],
      [3, 1000, 0.2, 4],
      [4, 1001, 0.1, 1],
      [70, 10, 0.1, 5],
      [1, 300, 0, 60],
    ] as const) {
      it(`N=${N} K=${K} ε=${smoothing} logits ±${spread}`, async () => {
        const rng = new Random(N * 7919 + K + (plan === 'serial' ? 0 : 1));
        const logits = rng.uniformArray(N * K, -spread, spread);
        for (let n = 0; n < N; n++) logits[n * K]! += 10 * (n % 3); // per-row offsets
        const labels = Int32Array.from({ length: N }, () => rng.int(K));
        const got = await runKernel(logits, labels, N, K, smoothing, plan);
        compare(got, crossEntropyRef(logits, labels, N, K, smoothing), N, K, `${plan} N=${N} K=${K} ε=${smoothing}`);
      });
    }

    it('labels outside [0, K): loss 0 and a zero gradient row for those samples; a gradient scale', async () => {
      const [N, K, smoothing] = [5, 7, 0.1];
      const rng = new Random(plan === 'serial' ? 3 : 4);
      const logits = rng.uniformArray(N * K, -2, 2);
      const labels = Int32Array.of(3, -1, 7, 0, 2147483647);
      const got = await runKernel(logits, labels, N, K, smoothing, plan, 0.25);
      const want = crossEntropyRef(logits, labels, N, K, smoothing, 0.25);
      compare(got, want, N, K, `${plan} bad labels`);
      for (const n of [1, 2, 4]) {
        expect(got.perSample[n]).toBe(0);
        expect(Array.from(got.dLogits.subarray(n * K, (n + 1) * K)).every((d) => d === 0)).toBe(true);
      }
    });
  });
}

describe('cross-entropy kernel vs PyTorch fixture', () => {
  const fixture = loadFixture('ops/cross_entropy');
  const cases = fixture.meta.cases as { name: string; N: number; K: number; smoothing: number }[];
  for (const c of cases) {
    for (const plan of ['serial', 'workgroup'] as const) {
      it(`${c.name}: N=${c.N} K=${c.K} ε=${c.smoothing} (${plan})`, async () => {
        const t = (k: string) => fixture.get(`${c.name}.${k}`).data;
        const logits64 = t('logits');
        const logits = Float32Array.from(logits64);
        const got = await runKernel(logits, Int32Array.from(t('labels')), c.N, c.K, c.smoothing, plan);
        // The kernel sees logits rounded to f32 (δ = max rounding, 3e-5 at |x| ≈ 560): the loss
        // moves by ≤ 2δ (|∂ℓ/∂x| sums to ≤ 2 per row), each gradient by ≤ ~2δ·p/N.
        let delta = 0;
        for (let i = 0; i < logits.length; i++) delta = Math.max(delta, Math.abs(logits[i]! - logits64[i]!));
        const tag = `${c.name} ${plan}`;
        expectAllClose([got.loss], t('loss'), { atol: 2 * delta + 1e-5, rtol: 2e-6, label: `loss ${tag}` });
        expectAllClose(got.perSample, t('perSample'), { atol: 2 * delta + 1e-5, rtol: 2e-6, label: `perSample ${tag}` });
        expectAllClose(got.dLogits, t('dLogits'), { atol: (2 * delta + 2e-7) / c.N, rtol: 1e-5 + 2 * delta, label: `dLogits ${tag}`, shape: [c.N, c.K] });
      });
    }
  }
});

describe('cross-entropy op checks', () => {
  it('rejects smoothing outside [0, 1) and short buffers, naming the op and buffer', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number): GPUBuffer => arena.f32('b', n);
    const io = { logits: b(12), labels: b(3), loss: b(1), perSample: b(3) };
    await expect(crossEntropyForward(engine, arena, 'head/ce', io, { N: 3, K: 4, smoothing: 1 })).rejects.toThrow(/head\/ce: smoothing = 1 must be in \[0, 1\)/);
    await expect(crossEntropyForward(engine, arena, 'head/ce', { ...io, perSample: b(2) }, { N: 3, K: 4, smoothing: 0.1 })).rejects.toThrow(
      /head\/ce: buffer 'perSample' holds 2 elements but \(N\) = \(3\) needs 3/,
    );
    await expect(crossEntropyBackward(engine, arena, 'head/ce-bwd', { logits: b(12), labels: b(3), dLogits: b(11) }, { N: 3, K: 4, smoothing: 0 })).rejects.toThrow(
      /head\/ce-bwd: buffer 'dLogits' holds 11 elements but \(N, K\) = \(3, 4\) needs 12/,
    );
    arena.destroy();
  });
});
