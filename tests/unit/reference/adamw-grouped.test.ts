// The grouped float64 AdamW reference (adamwGroupedStepRef, src/reference/adamw.ts): a param
// group per element (lr scale, weight decay). Checked against PyTorch's two-group fixture
// (tests/reference/gen_adamw.py, weight decay per group), against the single-group reference
// (itself checked against torch) with lr·lrScale for each group, and at lrScale 0.
import { describe, expect, it } from 'vitest';
import { adamwGroupedStepRef, adamwStepRef } from '../../../src/reference/adamw.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

const zeros = (n: number) => ({ m: new Float64Array(n), v: new Float64Array(n) });

describe('grouped AdamW reference', () => {
  it('matches torch.optim.AdamW with a decay and a no-decay group (fixture ops/adamw), 3 steps', () => {
    const fx = loadFixture('ops/adamw');
    const decay = fx.meta.decay as string[];
    const noDecay = fx.meta.no_decay as string[];
    const names = [...decay, ...noDecay];
    const [beta1, beta2] = fx.meta.betas as [number, number];
    const eps = fx.meta.eps as number;
    const wd = fx.meta.weight_decay as number;
    const lrs = fx.meta.lrs as number[];
    const flat = (prefix: string) => Float64Array.from(names.flatMap((k) => [...fx.get(`${prefix}.${k}`).data]));
    const weightDecay = Float64Array.from(names.flatMap((k) => Array(fx.get(`init.${k}`).data.length).fill(decay.includes(k) ? wd : 0)));
    const params = flat('init');
    const state = { params, ...zeros(params.length) };
    const lrScale = new Float64Array(params.length).fill(1);
    lrs.forEach((lr, i) => {
      const step = i + 1;
      adamwGroupedStepRef(state, flat(`grad${step}`), { step, lr, beta1, beta2, eps, lrScale, weightDecay });
      const tol = { atol: 1e-14, rtol: 1e-12 };
      expectAllClose(state.m, flat(`m${step}`), { ...tol, label: `exp_avg after step ${step}` });
      expectAllClose(state.v, flat(`v${step}`), { ...tol, label: `exp_avg_sq after step ${step}` });
      expectAllClose(state.params, flat(`param${step}`), { ...tol, label: `params after step ${step}` });
    });
  });

  it('each group equals the single-group reference run at lr·lrScale with its own decay, 4 steps', () => {
    const rng = new Random(21);
    const groups = [
      { size: 5, lrScale: 1, wd: 0.3 },
      { size: 3, lrScale: 0.5, wd: 0 },
      { size: 4, lrScale: 0.5 ** 6, wd: 0.3 },
      { size: 2, lrScale: 0.25, wd: 0.05 },
    ];
    const count = groups.reduce((s, g) => s + g.size, 0);
    const lrScale = Float64Array.from(groups.flatMap((g) => Array(g.size).fill(g.lrScale)));
    const weightDecay = Float64Array.from(groups.flatMap((g) => Array(g.size).fill(g.wd)));
    const cfg = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    const p0 = Float64Array.from(rng.uniformArray(count));
    const grouped = { params: Float64Array.from(p0), ...zeros(count) };
    const single = groups.map((g, k) => {
      const start = groups.slice(0, k).reduce((s, h) => s + h.size, 0);
      return { start, state: { params: p0.slice(start, start + g.size), ...zeros(g.size) } };
    });
    for (let step = 1; step <= 4; step++) {
      const lr = 1e-2 / step;
      const grads = Float64Array.from(rng.uniformArray(count));
      adamwGroupedStepRef(grouped, grads, { step, lr, ...cfg, lrScale, weightDecay });
      groups.forEach((g, k) => {
        const { start, state } = single[k]!;
        adamwStepRef(state, grads.slice(start, start + g.size), { step, lr: lr * g.lrScale, ...cfg, weightDecay: g.wd, decayCount: g.size });
      });
    }
    groups.forEach((g, k) => {
      const { start, state } = single[k]!;
      const label = `group ${k} (lrScale ${g.lrScale}, wd ${g.wd})`;
      expectAllClose(grouped.params.slice(start, start + g.size), state.params, { atol: 1e-15, rtol: 1e-14, label: `params ${label}` });
      expectAllClose(grouped.m.slice(start, start + g.size), state.m, { atol: 0, rtol: 0, label: `m ${label}` });
    });
  });

  it('lrScale 0 leaves the parameter untouched (no update, no decay) while the moments move', () => {
    const state = { params: Float64Array.of(2, 2), ...zeros(2) };
    adamwGroupedStepRef(state, [1, 1], { step: 1, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, lrScale: [0, 1], weightDecay: [0.3, 0.3] });
    expect(state.params[0]).toBe(2);
    expect(state.params[1]).not.toBe(2);
    expect(state.m[0]).toBeCloseTo(0.1, 15);
  });
});
