// EMA of the weights (shaders/ema.wgsl) against the float64 reference (src/reference/ema.ts)
// over several steps with changing parameters: scalar and vec4 paths, decay 0, 0.5, 0.9998, 1.
import { describe, expect, it } from 'vitest';
import { upload } from '../../../src/gpu/buffers.ts';
import { emaUpdate } from '../../../src/ops/ema.ts';
import { emaUpdateRef } from '../../../src/reference/ema.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

describe('emaUpdate vs float64 reference', () => {
  for (const [count, decay] of [
    [1, 0.5],
    [1003, 0.9998],
    [4096, 0.9],
    [21, 0],
    [20, 1],
  ] as const) {
    it(`count=${count} decay=${decay}, 4 steps (${count % 4 === 0 ? 'vec4' : 'scalar'})`, async () => {
      const engine = await testEngine();
      const arena = testArena(engine);
      const rng = new Random(count + 17);
      const ema0 = rng.uniformArray(count);
      const emaBuf = arena.fromData('ema', ema0);
      const paramsBuf = arena.f32('params', count);
      const dispatches = await emaUpdate(engine, arena, 'ema', { ema: emaBuf, params: paramsBuf }, { count, decay });
      const ref = Float64Array.from(ema0);
      const steps = 4;
      for (let t = 0; t < steps; t++) {
        const p = rng.uniformArray(count, -2, 2);
        upload(engine.ctx.device, paramsBuf, p);
        await run(engine, dispatches);
        emaUpdateRef(ref, p, decay);
      }
      const got = await readF32(engine, emaBuf, count);
      arena.destroy();
      // Two f32 products and a sum per step on values ≤ 2, plus f32(decay) vs decay (~3e-8 relative).
      expectAllClose(got, ref, { atol: 3e-7 * steps, rtol: 1e-6, label: `ema count=${count} decay=${decay}` });
      if (decay === 1) expect(Array.from(got)).toEqual(Array.from(ema0));
    });
  }

  it('rejects a decay outside [0, 1] and short buffers', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number): GPUBuffer => arena.f32('b', n);
    await expect(emaUpdate(engine, arena, 'ema', { ema: b(8), params: b(8) }, { count: 8, decay: 1.5 })).rejects.toThrow(/ema: decay = 1.5 must be in \[0, 1\]/);
    await expect(emaUpdate(engine, arena, 'ema', { ema: b(8), params: b(7) }, { count: 8, decay: 0.9 })).rejects.toThrow(
      /ema: buffer 'params' holds 7 elements but \(count\) = \(8\) needs 8/,
    );
    arena.destroy();
  });
});
