// The float64 AdamW reference against torch.optim.AdamW (tests/reference/gen_adamw.py): two
// param groups packed into the engine's flat layout (decay tensors first), 3 steps with a
// different lr each step; parameters and both moments compared after every step.
import { describe, expect, it } from 'vitest';
import { adamwStepRef } from '../../../src/reference/adamw.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

describe('AdamW reference vs PyTorch fixture', () => {
  const fx = loadFixture('ops/adamw');
  const decay = fx.meta.decay as string[];
  const noDecay = fx.meta.no_decay as string[];
  const names = [...decay, ...noDecay];
  const [beta1, beta2] = fx.meta.betas as [number, number];
  const eps = fx.meta.eps as number;
  const weightDecay = fx.meta.weight_decay as number;
  const lrs = fx.meta.lrs as number[];

  /** Concatenate the named tensors of `prefix` in flat-layout order. */
  const flat = (prefix: string): Float64Array => {
    const parts = names.map((k) => fx.get(`${prefix}.${k}`).data);
    const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  const decayCount = decay.reduce((s, k) => s + fx.get(`init.${k}`).data.length, 0);

  it('matches torch after each of 3 steps, both groups', () => {
    expect(lrs.length).toBe(3);
    const params = flat('init');
    const state = { params, m: new Float64Array(params.length), v: new Float64Array(params.length) };
    lrs.forEach((lr, i) => {
      const step = i + 1;
      adamwStepRef(state, flat(`grad${step}`), { step, lr, beta1, beta2, eps, weightDecay, decayCount });
      // Both sides are float64 with the same operation order: only last-bit differences.
      const tol = { atol: 1e-14, rtol: 1e-12 };
      expectAllClose(state.m, flat(`m${step}`), { ...tol, label: `exp_avg after step ${step}` });
      expectAllClose(state.v, flat(`v${step}`), { ...tol, label: `exp_avg_sq after step ${step}` });
      expectAllClose(state.params, flat(`param${step}`), { ...tol, label: `params after step ${step}` });
    });
  });

  it('the fixture exercises decay: without it the decay group would differ from torch', () => {
    const params = flat('init');
    const state = { params, m: new Float64Array(params.length), v: new Float64Array(params.length) };
    adamwStepRef(state, flat('grad1'), { step: 1, lr: lrs[0]!, beta1, beta2, eps, weightDecay, decayCount: 0 });
    const want = flat('param1');
    let maxDiff = 0;
    for (let i = 0; i < decayCount; i++) maxDiff = Math.max(maxDiff, Math.abs(state.params[i]! - want[i]!));
    expect(maxDiff).toBeGreaterThan(1e-6);
  });
});
