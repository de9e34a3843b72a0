import { describe, expect, it } from 'vitest';
import { customConfig, modelConfig, SIZE_NAMES, validateInputSize, ConfigError } from '../../../src/model/config.ts';
import { decayBoundary, decaysUnder, encoderParamCount, gradientFloats, initialParams, isEncoderParam, PARAM_ALIGN_FLOATS, paramTable, toEngineLayout, toTorchLayout, trainedRanges } from '../../../src/model/parameters.ts';
import { configFromStateDict, stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { Random } from '../../../src/util/random.ts';

/** Published parameter counts with the 1k classification head (spec §3 table), millions. */
const PUBLISHED_WITH_HEAD: Record<string, number> = {
  atto: 3.7, femto: 5.2, pico: 9.1, nano: 15.6, tiny: 28.6, base: 89, large: 198, huge: 660,
};

describe('model parameters', () => {
  it('encoder + final norm + 1k head matches the published counts of every size', () => {
    for (const size of SIZE_NAMES) {
      const c = modelConfig(size);
      const enc = encoderParamCount(paramTable(c));
      const d3 = c.dims[3]!;
      const withHead = enc + 2 * d3 + d3 * 1000 + 1000;
      const published = PUBLISHED_WITH_HEAD[size]!;
      // published figures are rounded to 0.1M (3 significant digits for the big ones)
      expect(Math.abs(withHead / 1e6 - published), `${size}: ${withHead}`).toBeLessThan(published >= 80 ? 0.6 : 0.06);
    }
  });

  it('atto encoder is 3.39M and its default decoder 3.87M (spec)', () => {
    const t = paramTable(modelConfig('atto'));
    const enc = encoderParamCount(t);
    expect((enc / 1e6).toFixed(2)).toBe('3.39');
    expect(((t.count - enc) / 1e6).toFixed(2)).toBe('3.87');
  });

  it('decayed tensors come first, every offset 256-byte aligned, no overlap', () => {
    const t = paramTable(customConfig([1, 1, 2, 1], [8, 16, 24, 32], 16, 2));
    const sorted = [...t.specs].sort((a, b) => a.offset - b.offset);
    let end = 0;
    for (const s of sorted) {
      expect(s.offset % PARAM_ALIGN_FLOATS).toBe(0);
      expect(s.offset).toBeGreaterThanOrEqual(end);
      end = s.offset + s.size;
      expect(s.decay).toBe(s.offset < t.decayFloats);
    }
    expect(t.specs.filter((s) => s.decay).map((s) => s.kind).every((k) => ['stem-conv', 'downsample-conv', 'dwconv', 'linear'].includes(k))).toBe(true);
  });

  it('engine ↔ torch layouts round-trip, and the permutations are the documented ones', () => {
    const t = paramTable(customConfig([1, 1, 1, 1], [3, 5, 6, 7], 4, 1));
    const dw = t.byName.get('encoder.stages.1.0.dwconv.weight')!; // (5,1,7,7)
    const torch = Float32Array.from({ length: dw.size }, (_, i) => i);
    const eng = toEngineLayout(dw, torch);
    expect(eng[3 * 5 + 2]).toBe(torch[2 * 49 + 3]); // tap 3 of channel 2
    expect(Array.from(toTorchLayout(dw, eng))).toEqual(Array.from(torch));
    const ds = t.byName.get('encoder.downsample_layers.2.1.weight')!; // (6,5,2,2)
    const t2 = Float32Array.from({ length: ds.size }, (_, i) => i);
    const e2 = toEngineLayout(ds, t2);
    // out 4, in 3, dy 1, dx 0 → column (1·2+0)·5 + 3
    expect(e2[4 * 20 + 2 * 5 + 3]).toBe(t2[((4 * 5 + 3) * 2 + 1) * 2 + 0]);
    expect(Array.from(toTorchLayout(ds, e2))).toEqual(Array.from(t2));
  });

  it('init: truncated normal weights with std ≈ 0.02, zero GRN, unit LN weight, seeded', () => {
    const t = paramTable(modelConfig('atto', 64, 1));
    const a = initialParams(t, new Random(7));
    const b = initialParams(t, new Random(7));
    let same = a.length === b.length;
    for (let i = 0; same && i < a.length; i++) same = a[i] === b[i];
    expect(same).toBe(true);
    const w = t.byName.get('encoder.stages.2.0.pwconv1.weight')!;
    const v = a.subarray(w.offset, w.offset + w.size);
    const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    expect(std).toBeGreaterThan(0.0195);
    expect(std).toBeLessThan(0.0205);
    const g = t.byName.get('encoder.stages.0.1.grn.gamma')!;
    expect(a.subarray(g.offset, g.offset + g.size).every((x) => x === 0)).toBe(true);
    const ln = t.byName.get('encoder.downsample_layers.0.1.weight')!;
    expect(a.subarray(ln.offset, ln.offset + ln.size).every((x) => x === 1)).toBe(true);
  });

  it('without GRN: no grn.* tensor in any block, 8C fewer parameters per block, other tensors initialised alike', () => {
    const depths = [1, 1, 2, 1];
    const dims = [8, 16, 24, 32];
    const withGrn = paramTable(customConfig(depths, dims, 16, 2));
    const noGrn = paramTable(customConfig(depths, dims, 16, 2, false));
    expect(noGrn.specs.filter((s) => s.name.includes('.grn.'))).toEqual([]);
    expect(withGrn.specs.filter((s) => s.name.includes('.grn.')).map((s) => s.name)).toHaveLength(2 * (5 + 2));
    // 2·4C per block (gamma and beta): encoder 8·(8 + 16 + 2·24 + 32), decoder 2 blocks of 8·16
    expect(withGrn.count - noGrn.count).toBe(8 * (8 + 16 + 2 * 24 + 32) + 2 * 8 * 16);
    expect(noGrn.specs.map((s) => s.name)).toEqual(withGrn.specs.map((s) => s.name).filter((n) => !n.includes('.grn.')));
    // GRN draws nothing from the generator (it starts at 0): every other tensor is the same
    const a = initialParams(withGrn, new Random(3));
    const b = initialParams(noGrn, new Random(3));
    for (const spec of noGrn.specs) {
      const w = withGrn.byName.get(spec.name)!;
      expect(Array.from(b.subarray(spec.offset, spec.offset + spec.size)), spec.name).toEqual(Array.from(a.subarray(w.offset, w.offset + w.size)));
    }
  });

  it('configFromStateDict infers GRN on/off and refuses a mix, naming blocks of both kinds', () => {
    const on = customConfig([1, 1, 2, 1], [8, 16, 24, 32], 16, 1);
    const off = customConfig([1, 1, 2, 1], [8, 16, 24, 32], 16, 1, false);
    const sdOn = stateDictFromFlat(paramTable(on), new Float32Array(paramTable(on).totalFloats));
    const sdOff = stateDictFromFlat(paramTable(off), new Float32Array(paramTable(off).totalFloats));
    expect(configFromStateDict(sdOn).grn).toBe(true);
    expect(configFromStateDict(sdOff)).toMatchObject({ depths: [1, 1, 2, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, grn: false });
    const mixed = new Map(sdOn);
    mixed.delete('decoder.0.grn.gamma');
    mixed.delete('decoder.0.grn.beta');
    expect(() => configFromStateDict(mixed)).toThrow(/mixes blocks with GRN \(encoder\.stages\.0\.0, 5 in all\) and without \(decoder\.0, 1 in all\)/);
    expect(() => customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1, 'no' as unknown as boolean)).toThrow(/grn must be true or false/);
  });

  it('rejects bad configs and input sizes with specific messages', () => {
    expect(() => customConfig([1, 1, 1], [8, 16, 24], 16, 1)).toThrow(/4 entries/);
    expect(() => customConfig([1, 0, 1, 1], [8, 16, 24, 32], 16, 1)).toThrow(/stage 1/);
    expect(() => validateInputSize(100, 96)).toThrow(ConfigError);
    expect(() => validateInputSize(96, 96)).not.toThrow();
  });
});

describe('trainedRanges (decoder warm-up)', () => {
  for (const [name, config] of [
    ['atto', modelConfig('atto')],
    ['custom, no GRN, decoder depth 0', customConfig([1, 2, 1, 1], [8, 16, 24, 40], 24, 0, false)],
  ] as const) {
    for (const rule of ['maintainers', 'official'] as const) {
      it(`${name}, ${rule} rule: the frozen ranges hold exactly the decoder-side tensors, each decaying as the rule says`, () => {
        const t = paramTable(config);
        expect(trainedRanges(t, false, rule)).toEqual([{ start: 0, floats: t.totalFloats, decayFloats: decayBoundary(t, rule), gradOffset: 0 }]);
        const ranges = trainedRanges(t, true, rule);
        // one range per part of the table holding decoder tensors: maintainers'-decayed, official-only (mask token, decoder GRN), never decayed
        expect(ranges.length).toBe(3);
        let offset = 0;
        for (const r of ranges) {
          expect(r.gradOffset).toBe(offset);
          expect(r.decayFloats === 0 || r.decayFloats === r.floats).toBe(true);
          expect((r.start * 4) % 256).toBe(0); // WebGPU storage-binding offsets
          offset += r.floats;
        }
        expect(gradientFloats(ranges)).toBe(offset);
        for (const s of t.specs) {
          const inside = ranges.find((r) => s.offset >= r.start && s.offset + s.size <= r.start + r.floats);
          expect(Boolean(inside), s.name).toBe(!isEncoderParam(s.name));
          if (inside) expect(inside.decayFloats > 0, `${s.name} decays under the ${rule} rule`).toBe(decaysUnder(s, rule));
        }
        // the ranges end at the table's parts' ends
        expect(ranges.map((r) => r.start + r.floats)).toEqual([t.decayFloats, t.officialDecayFloats, t.totalFloats]);
      });
    }
  }
});
