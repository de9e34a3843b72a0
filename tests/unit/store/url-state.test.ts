// Settings validation and the URL codec: round trips, presets, and every kind of bad link.
import { describe, expect, it } from 'vitest';
import { MODEL_SIZES } from '../../../src/model/config.ts';
import { applySetting, checkSetting, defaultSettings, maxMaskRatio, SettingError, validateSettings, type Settings } from '../../../src/store/settings.ts';
import { settingsFromQuery, settingsToQuery, URL_FIELDS } from '../../../src/store/url-state.ts';

describe('settings', () => {
  it('defaults are valid and every setting has a URL parameter', () => {
    expect(validateSettings(defaultSettings())).toEqual([]);
    expect(URL_FIELDS.map((f) => f.key).sort()).toEqual(Object.keys(defaultSettings()).sort());
    expect(new Set(URL_FIELDS.map((f) => f.param)).size).toBe(URL_FIELDS.length);
  });

  it('rejects bad values naming the setting', () => {
    expect(() => checkSetting('inputSize', 100)).toThrow(SettingError);
    expect(() => checkSetting('inputSize', 100)).toThrow(/inputSize = 100: must be a multiple of the 32-px mask patch/);
    expect(() => checkSetting('batchSize', 0)).toThrow(/batchSize = 0: must be an integer in 1\.\.1024/);
    expect(() => checkSetting('maskRatio', 1)).toThrow(/maskRatio = 1: must be a number in \[0, 1\)/);
    expect(() => checkSetting('dims', [8, 16, 24])).toThrow(/dims = \[8,16,24\]: needs 4 integers/);
    expect(() => checkSetting('gelu', 'relu')).toThrow(/must be one of erf, tanh/);
  });

  it('choosing a size copies its preset; editing dims makes it custom, or matches a preset back', () => {
    let s = applySetting(defaultSettings(), 'size', 'tiny');
    expect(s.depths).toEqual(MODEL_SIZES.tiny.depths);
    expect(s.dims).toEqual(MODEL_SIZES.tiny.dims);
    s = applySetting(s, 'dims', [96, 192, 384, 700]);
    expect(s.size).toBe('custom');
    s = applySetting(s, 'dims', [...MODEL_SIZES.tiny.dims]);
    expect(s.size).toBe('tiny');
    expect(validateSettings(s)).toEqual([]);
  });

  it('shrinking the input clamps mask ratios to keep one patch visible', () => {
    let s = applySetting(defaultSettings(), 'maskRatio', 0.9);
    s = applySetting(s, 'inputSize', 64); // L = 4: the largest usable ratio keeps 1 of 4
    expect(maxMaskRatio(64)).toBe(0.75);
    expect(s.maskRatio).toBe(0.75);
    expect(validateSettings(s)).toEqual([]);
    s = applySetting(s, 'inputSize', 32); // one patch: only ratio 0
    expect(s.maskRatio).toBe(0);
    expect(s.viewMaskRatio).toBe(0);
  });

  it('cross-field problems: warmup beyond the run, lr above 1', () => {
    const s = { ...defaultSettings(), warmupSteps: 20, totalSteps: 10, blr: 0.9, batchSize: 1024 };
    const keys = validateSettings(s).map((e) => e.key);
    expect(keys).toEqual(['warmupSteps', 'blr']);
  });
});

describe('URL state', () => {
  it('round-trips every setting exactly', () => {
    let s: Settings = defaultSettings();
    s = applySetting(s, 'depths', [1, 1, 1, 1]);
    s = applySetting(s, 'dims', [8, 16, 24, 32]);
    s = { ...s, inputSize: 64, decoderDim: 16, decoderDepth: 0, grn: false, grnMode: 'batch', gelu: 'tanh', denseEncoder: true };
    s = { ...s, batchSize: 2, blr: 1.5e-4 * 3, warmupSteps: 3, totalSteps: 7, weightDecay: 0.1, seed: 4294967295, normPix: false };
    s = { ...s, maskRatio: 0.3, viewMaskRatio: 0.7, viewMaskSeed: 9, smoothing: 0.95, logScale: true, sweepRatios: [0.1, 0.3, 0.7], sweepSteps: 5 };
    expect(validateSettings(s)).toEqual([]);
    const q = settingsToQuery(s);
    expect(q).toContain('depths=1,1,1,1');
    expect(q).toContain('blr=0.00045');
    const back = settingsFromQuery(`?${q}`);
    expect(back.problems).toEqual([]);
    expect(back.settings).toEqual(s);
    expect(back.given.length).toBe(URL_FIELDS.length);
  });

  it('GRN on/off travels as grn_on, next to the statistics mode; a link without it keeps GRN', () => {
    const off = applySetting(defaultSettings(), 'grn', false);
    const q = settingsToQuery(off);
    expect(q).toContain('grn_on=0&grn=per-sample');
    const back = settingsFromQuery(q);
    expect([back.settings.grn, back.problems]).toEqual([false, []]);
    expect(settingsFromQuery(q.replace('grn_on=0&', '')).settings.grn).toBe(true);
    expect(settingsFromQuery('grn_on=1').settings.grn).toBe(true);
    expect(settingsFromQuery('grn_on=off').problems).toEqual(['URL parameter grn_on=off ignored: grn = "off": must be true or false']);
  });

  it('an empty query gives the defaults', () => {
    const r = settingsFromQuery('');
    expect(r.settings).toEqual(defaultSettings());
    expect(r.problems).toEqual([]);
  });

  it('a size name alone brings its preset', () => {
    const r = settingsFromQuery('size=nano&bs=4');
    expect(r.settings.depths).toEqual(MODEL_SIZES.nano.depths);
    expect(r.settings.dims).toEqual(MODEL_SIZES.nano.dims);
    expect(r.settings.batchSize).toBe(4);
  });

  it('explicit depths/dims beat a size name that contradicts them', () => {
    const r = settingsFromQuery('size=atto&depths=1,1,1,1&dims=8,16,24,32');
    expect(r.settings.size).toBe('custom');
    expect(r.settings.depths).toEqual([1, 1, 1, 1]);
    expect(r.problems).toEqual(['URL parameter size=atto does not match depths 1,1,1,1 / dims 8,16,24,32; treated as custom']);
  });

  it('skips bad and unknown parameters with a message each, keeping the rest', () => {
    const r = settingsFromQuery('bs=abc&mask=1.5&img=100&grn=magic&dense_enc=maybe&wat=1&seed=7&blr=&sweep=0.2,x');
    expect(r.settings.seed).toBe(7);
    expect(r.settings.batchSize).toBe(defaultSettings().batchSize);
    expect(r.problems).toEqual([
      'URL parameter img=100 ignored: inputSize = 100: must be a multiple of the 32-px mask patch',
      'URL parameter grn=magic ignored: grnMode = "magic": must be one of per-sample, batch',
      'URL parameter dense_enc=maybe ignored: denseEncoder = "maybe": must be true or false',
      'URL parameter bs=abc ignored: batchSize = NaN: must be an integer in 1..1024',
      'URL parameter blr= ignored: blr = NaN: must be a number in [0, 1]',
      'URL parameter mask=1.5 ignored: maskRatio = 1.5: must be a number in [0, 1)',
      'URL parameter sweep=0.2,x ignored: sweepRatios = [0.2,NaN]: needs 1..12 mask ratios in [0, 1)',
      'URL parameter wat is unknown and was ignored',
    ]);
  });

  it('cross-field: warmup beyond steps reverts warmup; a ratio too high for the input is clamped', () => {
    const r = settingsFromQuery('steps=10&warmup=20');
    expect(r.settings.totalSteps).toBe(10);
    expect(r.settings.warmupSteps).toBe(10); // default 50 clamped to the run length
    expect(r.problems).toEqual(['URL parameter warmup ignored: warmupSteps = 20: exceeds the 10 total steps (the recipe warms up for 5% of the run)']);
    const m = settingsFromQuery('img=64&mask=0.9');
    expect(m.problems).toHaveLength(1);
    expect(m.problems[0]).toMatch(/^URL parameter mask ignored: maskRatio = 0\.9: mask ratio 0\.9 keeps floor\(4·\(1 − 0\.9\)\) = 0 of 4 patches/);
    expect(m.settings.maskRatio).toBe(0.6); // default, usable at L = 4
    expect(validateSettings(m.settings)).toEqual([]);
  });
});
