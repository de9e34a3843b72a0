// elementwise.wgsl (add, accumulate, copy, scale) against float64 arithmetic rounded to f32.
// One f32 add or multiply is correctly rounded, and rounding the exact float64 result of two
// f32 operands gives the same value, so these compare with zero tolerance. Counts exercise the
// scalar path (count % 4 ≠ 0), the vec4 path, partial last workgroups and a 2-D linearGrid.
import { describe, expect, it } from 'vitest';
import { accumulate, addForward, copy, scale } from '../../../src/ops/elementwise.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

const COUNTS = [1, 7, 1024, 1027, 70_004];
const EXACT = { atol: 0, rtol: 0 }; // see header: one correctly rounded f32 operation

describe('elementwise kernels', () => {
  for (const count of COUNTS) {
    it(`add, accumulate, copy, scale (fixed and from a buffer), count=${count}`, async () => {
      const engine = await testEngine();
      const arena = testArena(engine);
      const rng = new Random(count);
      const a = rng.uniformArray(count);
      const b = rng.uniformArray(count);
      const A = arena.fromData('a', a);
      const B = arena.fromData('b', b);
      const out = arena.fromData('out', new Float32Array(count).fill(9));
      const acc = arena.fromData('acc', a);
      // copy leaves everything past `count` alone: dst is longer and pre-filled.
      const dst = arena.fromData('dst', new Float32Array(count + 5).fill(-3));
      const scaled = arena.fromData('scaled', a);
      const scaledBy = arena.fromData('scaled-by', b);
      const factor = arena.fromData('factor', new Float32Array([-0.375]));
      await run(engine, [
        ...(await addForward(engine, arena, 'add', { a: A, b: B, out }, { count })),
        ...(await accumulate(engine, arena, 'accumulate', { a: acc, b: B }, { count })),
        ...(await copy(engine, arena, 'copy', { src: A, dst }, { count })),
        ...(await scale(engine, arena, 'scale', { x: scaled }, { count, s: 1.7 })),
        ...(await scale(engine, arena, 'scale-by', { x: scaledBy, factor }, { count })),
      ]);
      const f = Math.fround;
      const sum = Array.from(a, (v, i) => f(v + b[i]!));
      expectAllClose(await readF32(engine, out, count), sum, { ...EXACT, label: `add count=${count}` });
      expectAllClose(await readF32(engine, acc, count), sum, { ...EXACT, label: `accumulate count=${count}` });
      expectAllClose(await readF32(engine, dst, count + 5), [...a, -3, -3, -3, -3, -3], { ...EXACT, label: `copy count=${count}` });
      expectAllClose(await readF32(engine, scaled, count), Array.from(a, (v) => f(v * f(1.7))), { ...EXACT, label: `scale count=${count}` });
      expectAllClose(await readF32(engine, scaledBy, count), Array.from(b, (v) => f(v * -0.375)), { ...EXACT, label: `scale-by count=${count}` });
      arena.destroy();
    });
  }

  it('scale over more than 65535 workgroups (2-D linearGrid, scalar path)', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const count = 65_535 * 256 + 3; // 65536 workgroups of 256: the grid needs a second dimension
    const x = new Float32Array(count);
    for (let i = 0; i < count; i++) x[i] = (i % 1000) - 500;
    const X = arena.fromData('x', x);
    const dispatches = await scale(engine, arena, 'scale-big', { x: X }, { count, s: 0.5 });
    expect(dispatches[0]!.workgroups[1]).toBeGreaterThan(1);
    await run(engine, dispatches);
    expectAllClose(await readF32(engine, X, count), x.map((v) => v * 0.5), { ...EXACT, label: 'scale-big' });
    arena.destroy();
  });

  it('rejects bad arguments by name', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const x = arena.f32('x', 8);
    await expect(copy(engine, arena, 'cp', { src: x, dst: arena.f32('short', 6) }, { count: 8 })).rejects.toThrow(/cp: buffer 'dst' holds 6 floats, needs 8/);
    await expect(addForward(engine, arena, 'add0', { a: x, b: x, out: x }, { count: 0 })).rejects.toThrow(/add0: count must be a positive integer/);
    await expect(scale(engine, arena, 'sc', { x }, { count: 8 })).rejects.toThrow(/sc: scale needs exactly one of/);
    await expect(scale(engine, arena, 'sc2', { x, factor: x }, { count: 8, s: 2 })).rejects.toThrow(/sc2: scale needs exactly one of/);
    arena.destroy();
  });
});
