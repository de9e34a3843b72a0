// The chart data path: debiased EMA against its closed form, the incremental smoother against
// the batch one, decimation of a full series, and once-per-frame scheduling.
import { describe, expect, it } from 'vitest';
import { debiasedEma, FrameScheduler, MetricSeries, SeriesError, SmoothedColumn, stepsToFall } from '../../../src/store/series.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';

/** Closed form: s_k = Σ_{i≤k} w^(k−i)(1−w)v_i / (1 − w^(k+1)), summed directly in float64. */
function emaClosedForm(v: ArrayLike<number>, w: number): Float64Array {
  const out = new Float64Array(v.length);
  for (let k = 0; k < v.length; k++) {
    let num = 0;
    for (let i = 0; i <= k; i++) num += w ** (k - i) * (1 - w) * v[i]!;
    out[k] = num / (1 - w ** (k + 1));
  }
  return out;
}

describe('debiasedEma', () => {
  it('equals the closed form for several smoothing weights', () => {
    const v = new Random(3).uniformArray(200);
    for (const w of [0, 0.5, 0.9, 0.99]) {
      // recurrence vs direct sum: rounding differs by a few ulps of values ~1
      expectAllClose(debiasedEma(v, w), emaClosedForm(v, w), { atol: 1e-12, rtol: 1e-12, label: `ema w=${w}` });
    }
  });

  it('starts at the first value (debiased) and smoothing 0 is the raw series', () => {
    const v = [2, 4, 8];
    expect(debiasedEma(v, 0.9)[0]).toBeCloseTo(2, 14);
    expect(Array.from(debiasedEma(v, 0))).toEqual(v);
    // s1 = (0.9·0.1·2 + 0.1·4) / (1 − 0.81)
    expect(debiasedEma(v, 0.9)[1]).toBeCloseTo((0.09 * 2 + 0.1 * 4) / 0.19, 14);
  });

  it('non-finite values pass through and do not poison the average', () => {
    const s = debiasedEma([1, NaN, 3, Infinity, 5], 0.5);
    expect(Number.isNaN(s[1])).toBe(true);
    expect(s[3]).toBe(Infinity);
    const finite = debiasedEma([1, 3, 5], 0.5);
    expect([s[0], s[2], s[4]]).toEqual(Array.from(finite));
  });

  it('rejects smoothing outside [0, 1)', () => {
    expect(() => debiasedEma([1], 1)).toThrow(SeriesError);
  });
});

describe('MetricSeries + SmoothedColumn', () => {
  it('incremental smoothing equals the batch EMA for any update pattern', () => {
    const rng = new Random(11);
    const raw = rng.uniformArray(500);
    const series = new MetricSeries(['loss', 'lr'], 1024);
    const smooth = new SmoothedColumn(series, 'loss');
    let pushed = 0;
    while (pushed < raw.length) {
      const burst = 1 + rng.int(17); // bursts of 1..17 points, like metric batches
      for (let k = 0; k < burst && pushed < raw.length; k++, pushed++) series.push(pushed + 1, [raw[pushed]!, 0.1]);
      const got = smooth.update(0.95);
      // identical operations in identical order: bit-exact
      expect(Array.from(got)).toEqual(Array.from(debiasedEma(raw.subarray(0, pushed), 0.95)));
    }
    // changing the smoothing recomputes from the start
    expectAllClose(smooth.update(0.6), debiasedEma(raw, 0.6), { atol: 0, rtol: 0, label: 'resmoothed' });
    expect(series.column('lr').every((x) => x === 0.1)).toBe(true);
    expect(() => series.column('nope' as 'loss')).toThrow(/no column 'nope'/);
  });

  it('steps must increase', () => {
    const s = new MetricSeries(['loss'], 8);
    s.push(1, [1]);
    expect(() => s.push(1, [2])).toThrow(/step 1 is not after the last step 1/);
  });

  it('a full series halves its resolution: pair means, later step, merging raw steps afterwards', () => {
    const cap = 8;
    const s = new MetricSeries(['loss'], cap);
    const raw = Array.from({ length: 21 }, (_, i) => (i + 1) ** 2);
    raw.forEach((v, i) => s.push(i + 1, { loss: v }));
    // 8 points, then at the 9th: halve to 4 (stride 2) and merge pairs; at 17 raw steps the 8
    // stride-2 points halve again to 4 (stride 4).
    expect(s.stride).toBe(4);
    const x = Array.from(s.x());
    const y = Array.from(s.column('loss'));
    // reference: means of consecutive groups of 4 raw steps (steps 1-4, 5-8, ...), then the
    // provisional last point = mean of the remaining raw steps (21 → a group of 1)
    const groups: number[][] = [];
    for (let i = 0; i < raw.length; i += 4) groups.push(raw.slice(i, i + 4));
    expect(x).toEqual(groups.map((_, j) => Math.min(4 * j + 4, raw.length)));
    expectAllClose(y, groups.map((g) => g.reduce((a, b) => a + b, 0) / g.length), { atol: 1e-12, rtol: 1e-12, label: 'decimated loss' });
  });

  it('smoothing on a decimated series keeps the time constant in steps (weight w^stride)', () => {
    const s = new MetricSeries(['loss'], 4);
    for (let i = 1; i <= 8; i++) s.push(i, [i % 2 === 0 ? 1 : 3]); // pairs average to 2
    expect(s.stride).toBe(2);
    const sm = new SmoothedColumn(s, 'loss').update(0.5);
    expectAllClose(sm, debiasedEma([2, 2, 2, 2], 0.25), { atol: 1e-15, rtol: 0, label: 'decimated ema' });
  });

  it('clear() empties and resets stride; toJSON copies', () => {
    const s = new MetricSeries(['loss'], 4);
    for (let i = 1; i <= 9; i++) s.push(i, [i]);
    const json = s.toJSON();
    expect(json.step.length).toBe(s.length);
    s.clear();
    expect(s.length).toBe(0);
    expect(s.stride).toBe(1);
    expect(json.loss.length).toBeGreaterThan(0);
    expect(Number.isNaN(s.last('loss'))).toBe(true);
  });
});

describe('FrameScheduler', () => {
  it('runs the callback once per frame however many requests arrive', () => {
    const frames: (() => void)[] = [];
    let calls = 0;
    const f = new FrameScheduler(() => calls++, (cb) => frames.push(cb));
    for (let i = 0; i < 50; i++) f.request();
    expect(frames.length).toBe(1);
    frames.shift()!();
    expect(calls).toBe(1);
    f.request();
    f.request();
    expect(frames.length).toBe(1);
    frames.shift()!();
    expect(calls).toBe(2);
  });
});

describe('MetricSeries.truncateAfter', () => {
  it('drops later points and the smoother restarts consistently', () => {
    const s = new MetricSeries(['loss'], 64);
    const raw = Array.from({ length: 20 }, (_, i) => Math.sin(i) + 2);
    raw.forEach((v, i) => s.push(i + 1, [v]));
    const sm = new SmoothedColumn(s, 'loss');
    sm.update(0.8);
    s.truncateAfter(12);
    expect(Array.from(s.x())).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    s.push(13, [5]);
    const want = debiasedEma([...raw.slice(0, 12), 5], 0.8);
    expect(Array.from(sm.update(0.8))).toEqual(Array.from(want));
    s.truncateAfter(100); // nothing to drop
    expect(s.length).toBe(13);
  });
});

describe('stepsToFall', () => {
  it('the first step whose debiased EMA is the fraction below the first loss', () => {
    const losses = [1, 1, 0.8, 0.8, 0.8, 0.8];
    // EMA 0.5, debiased: 1, 1, 0.8857…, 0.84, 0.8194…, 0.8095…
    expect(stepsToFall(losses, 0.1, 0.5)).toBe(3);
    expect(stepsToFall(losses, 0.15, 0.5)).toBe(4);
    expect(stepsToFall(losses, 0.18, 0.5)).toBe(5);
    expect(stepsToFall(losses, 0.3, 0.5)).toBeNull();
    expect(stepsToFall(losses, 0.2, 0)).toBe(3); // no smoothing: the raw loss
    expect(stepsToFall([], 0.1)).toBeNull();
  });
});
