// Grouped AdamW (shaders/adamw-grouped.wgsl) against the float64 grouped reference
// (adamwGroupedStepRef, itself checked against torch) over several steps: vec4 and scalar
// paths, chunks with lrScale 0.5^k, weight decay 0, 0.05 and 0.3, tensors of odd sizes with
// their alignment padding, a per-step lr rewritten into the scalars buffer while the
// dispatch stays the same; one element per invocation (the GPU plan) and 3 (as the software
// plan's several, with a last pass only partly inside the buffer). Also adamwChunkTable and the op's checks.
import { describe, expect, it } from 'vitest';
import { upload } from '../../../src/gpu/buffers.ts';
import { PARAM_ALIGN_FLOATS } from '../../../src/model/parameters.ts';
import {
  ADAMW_CHUNK_FLOATS,
  ADAMW_SCALARS_LENGTH,
  AdamWConfigError,
  adamwChunkTable,
  adamwGroupedUpdate,
  adamwStepScalars,
  type AdamWChunkGroup,
} from '../../../src/ops/adamw.ts';
import { adamwGroupedStepRef } from '../../../src/reference/adamw.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

const CFG = { beta1: 0.9, beta2: 0.999, eps: 1e-8 }; // the fine-tuning betas (spec §2)

/** Tensors of the given sizes laid out as the model does: each at the next multiple of 64. */
function layout(sizes: readonly number[], groupOf: (k: number) => { lrScale: number; weightDecay: number }): { tensors: AdamWChunkGroup[]; count: number } {
  let offset = 0;
  const tensors = sizes.map((size, k) => {
    const t = { offset, size, ...groupOf(k) };
    offset += Math.ceil(size / ADAMW_CHUNK_FLOATS) * ADAMW_CHUNK_FLOATS;
    return t;
  });
  return { tensors, count: offset };
}

async function check(tensors: AdamWChunkGroup[], count: number, steps: number, seed: number, perThread?: number): Promise<void> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed);
  const table = adamwChunkTable(count, tensors);
  // Per-element groups for the reference, from what the kernel is given (f32 table values).
  const lrScale = Float64Array.from({ length: count }, (_, i) => table[2 * Math.floor(i / ADAMW_CHUNK_FLOATS)]!);
  const weightDecay = Float64Array.from({ length: count }, (_, i) => table[2 * Math.floor(i / ADAMW_CHUNK_FLOATS) + 1]!);
  const inTensor = new Uint8Array(count);
  for (const t of tensors) inTensor.fill(1, t.offset, t.offset + t.size);
  // Padding holds zeros with zero gradients, as in the model's flat buffer.
  const p0 = rng.uniformArray(count).map((x, i) => (inTensor[i] ? x : 0));
  const paramsBuf = arena.fromData('params', p0);
  const gradsBuf = arena.f32('grads', count);
  const mBuf = arena.f32('m', count);
  const vBuf = arena.f32('v', count);
  const scalarsBuf = arena.f32('scalars', ADAMW_SCALARS_LENGTH);
  const dispatches = await adamwGroupedUpdate(
    engine,
    arena,
    'adamw-grouped',
    { params: paramsBuf, grads: gradsBuf, m: mBuf, v: vBuf, scalars: scalarsBuf, chunkScales: arena.fromData('chunk-scales', table) },
    { count, ...CFG, perThread },
  );
  const ref = { params: Float64Array.from(p0), m: new Float64Array(count), v: new Float64Array(count) };
  const refAbs = { params: Float64Array.from(p0), m: new Float64Array(count), v: new Float64Array(count) };
  for (let t = 1; t <= steps; t++) {
    const grads = rng.uniformArray(count).map((g, i) => (!inTensor[i] ? 0 : i % 7 === 3 ? 0 : i % 11 === 5 ? g * 1e-8 : i % 13 === 2 ? g * 100 : g));
    const lr = 1e-2 * (1 + 0.5 * Math.sin(t));
    upload(engine.ctx.device, gradsBuf, grads);
    upload(engine.ctx.device, scalarsBuf, adamwStepScalars(t, lr, CFG));
    await run(engine, dispatches);
    adamwGroupedStepRef(ref, grads, { step: t, lr, ...CFG, lrScale, weightDecay });
    adamwGroupedStepRef(refAbs, grads.map(Math.abs), { step: t, lr, ...CFG, lrScale, weightDecay });
  }
  const params = await readF32(engine, paramsBuf, count);
  const m = await readF32(engine, mBuf, count);
  const v = await readF32(engine, vBuf, count);
  arena.destroy();
  const tag = `count=${count} (${count % 4 === 0 ? 'vec4' : 'scalar'}) perThread=${perThread ?? 'plan'} after ${steps} steps`;
  // m relative to the size of its terms (it may cancel to ~0): f32 rounding of a few
  // multiply-adds per step. v: positive terms, relative to itself.
  const mScale = refAbs.m.map((x) => Math.max(x, 1e-30));
  expectAllClose(m.map((x, i) => x / mScale[i]!), ref.m.map((x, i) => x / mScale[i]!), { atol: 1e-6, rtol: 0, label: `m / Σ|terms| ${tag}` });
  expectAllClose(v, ref.v, { atol: 1e-16, rtol: 1e-5, label: `v ${tag}` });
  // params ~1 rounded to f32 each step, each update ≤ ~lr·lrScale carrying a few ulps; a wrong
  // group (a factor 2 in lr, decay 0.3 vs 0: 3e-3·|p| per step) is far above this.
  expectAllClose(params, ref.params, { atol: 3e-7 * steps, rtol: 1e-6, label: `params ${tag}` });
  for (let i = 0; i < count; i++) if (!inTensor[i]) expect(params[i]).toBe(0);
}

describe('grouped AdamW kernel vs float64 reference', () => {
  // Layer-wise decay 0.5^k over 7 "layers", decay 0.3 on weights and 0 on biases / norms.
  const groupOf = (k: number) => ({ lrScale: 0.5 ** Math.floor(k / 2), weightDecay: k % 2 === 0 ? 0.3 : 0 });

  it.each([1, 3])('vec4 path: 14 tensors of odd sizes with padding, 5 steps, %i element(s) per invocation', async (perThread) => {
    const { tensors, count } = layout([100, 7, 64, 1, 130, 33, 5, 64, 200, 3, 65, 9, 128, 2], groupOf);
    expect(count % 4).toBe(0);
    await check(tensors, count, 5, 1, perThread);
  });

  it.each([1, 3])('scalar path: count not a multiple of 4 (a last tensor without padding), 4 steps, %i element(s) per invocation', async (perThread) => {
    const { tensors } = layout([70, 3, 64, 11], groupOf);
    const last = tensors[tensors.length - 1]!;
    const count = last.offset + last.size; // 267: the buffer ends with the last tensor
    expect(count % 4).not.toBe(0);
    await check(tensors, count, 4, 2, perThread);
  });

  it('wd 0.05, lrScale 0.5^12 and a chunk no tensor touches (not updated)', async () => {
    const tensors = [
      { offset: 0, size: 64, lrScale: 0.5 ** 12, weightDecay: 0.05 },
      { offset: 128, size: 60, lrScale: 1, weightDecay: 0.05 },
    ];
    await check(tensors, 192, 3, 3);
  });
});

describe('adamwChunkTable and op checks', () => {
  it('chunk size is the parameter alignment', () => {
    expect(ADAMW_CHUNK_FLOATS).toBe(PARAM_ALIGN_FLOATS);
  });

  it('fills (lrScale, wd) per chunk, the padding chunk included, and rejects bad layouts', () => {
    const table = adamwChunkTable(256, [
      { offset: 0, size: 65, lrScale: 0.5, weightDecay: 0.3 },
      { offset: 192, size: 10, lrScale: 1, weightDecay: 0 },
    ]);
    expect(Array.from(table)).toEqual([0.5, Math.fround(0.3), 0.5, Math.fround(0.3), 0, 0, 1, 0]);
    expect(() => adamwChunkTable(256, [{ offset: 32, size: 8, lrScale: 1, weightDecay: 0 }])).toThrow(/offset 32.*multiple of 64/);
    expect(() =>
      adamwChunkTable(256, [
        { offset: 0, size: 65, lrScale: 1, weightDecay: 0 },
        { offset: 64, size: 8, lrScale: 1, weightDecay: 0 },
      ]),
    ).toThrow(/tensor 1 .* shares chunk 1 with tensor 0/);
    expect(() => adamwChunkTable(100, [{ offset: 64, size: 40, lrScale: 1, weightDecay: 0 }])).toThrow(/does not fit in count = 100/);
  });

  it('rejects short buffers and bad hyperparameters with specific errors', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number): GPUBuffer => arena.f32('b', n);
    const io = { params: b(130), grads: b(130), m: b(130), v: b(130), scalars: b(ADAMW_SCALARS_LENGTH), chunkScales: b(5) };
    await expect(adamwGroupedUpdate(engine, arena, 'opt', io, { count: 130, ...CFG })).rejects.toThrow(
      /opt: buffer 'chunkScales' holds 20 bytes but count = 130 needs \(3, 2\) floats = 24 bytes/,
    );
    await expect(adamwGroupedUpdate(engine, arena, 'opt', { ...io, chunkScales: b(6), m: b(129) }, { count: 130, ...CFG })).rejects.toThrow(
      /opt: buffer 'm' holds 516 bytes but count = 130 needs 520/,
    );
    await expect(adamwGroupedUpdate(engine, arena, 'opt', { ...io, chunkScales: b(6) }, { count: 130, ...CFG, beta2: 1 })).rejects.toThrow(AdamWConfigError);
    arena.destroy();
  });
});
