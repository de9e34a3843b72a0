// Model-panel figures: MACs against the published ConvNeXt V2 GFLOPs, the sparse saving
// against the visible fraction, parameter counts against the spec, and the memory estimate
// against activation shapes of the dense network.
import { describe, expect, it } from 'vitest';
import { customConfig, modelConfig, SIZE_NAMES } from '../../../src/model/config.ts';
import { paramTable } from '../../../src/model/parameters.ts';
import { encoderMacs, fitsAdapter, formatBytes, formatCount, macsPerImage, memoryEstimate, paramCounts, trainingStepFlops, assertClassifierFits } from '../../../src/train/estimates.ts';
import { fcmaeStepFlops } from '../../../src/train/flops.ts';

/** Published GFLOPs at 224 px (fvcore MACs, with the 1k head), spec §3. */
const PUBLISHED_GFLOPS: Record<string, number> = { atto: 0.55, femto: 0.78, pico: 1.37, nano: 2.45, tiny: 4.47, base: 15.4, large: 34.4, huge: 115 };

describe('macsPerImage', () => {
  it('dense encoder + 1k head at 224 px reproduces the published GFLOPs of every size', () => {
    for (const size of SIZE_NAMES) {
      const c = modelConfig(size);
      const g = (encoderMacs(c, 49) + c.dims[3]! * 1000) / 1e9;
      const want = PUBLISHED_GFLOPS[size]!;
      // published values are rounded to 3 significant digits; norms/GELU/GRN add < 1% more
      expect(Math.abs(g - want) / want, `${size}: ${g.toFixed(4)} vs ${want}`).toBeLessThan(0.012);
    }
  });

  it('the sparse encoder costs the visible fraction of the dense one', () => {
    const c = modelConfig('atto');
    const sparse = macsPerImage(c, { inputSize: 224, visible: 19, denseEncoder: false });
    const dense = macsPerImage(c, { inputSize: 224, visible: 19, denseEncoder: true });
    expect(sparse.encoderPatches).toBe(19); // floor(49·0.4)
    expect(dense.encoderPatches).toBe(49);
    // every encoder layer is per-site, so cost scales exactly with computed patches
    expect(sparse.encoder / dense.encoder).toBeCloseTo(19 / 49, 12);
    expect(sparse.trainingStep).toBe(3 * sparse.forward);
  });

  it('decoder: proj on encoded patches, blocks on all L, pred on the masked patches', () => {
    const c = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 2);
    const m = macsPerImage(c, { inputSize: 64, visible: 2, denseEncoder: false });
    // L = 4, V = 2, M = 2: proj 2·32·16, two blocks of width 16 on 4 sites, pred 2·16·3072
    const block = 4 * (49 * 16 + 8 * 16 * 16);
    expect(m.decoder).toBe(2 * 32 * 16 + 2 * block + 2 * 16 * 3072);
    // ratio 0: nothing masked, the loss reconstructs all 4 patches
    const m0 = macsPerImage(c, { inputSize: 64, visible: 4, denseEncoder: false });
    expect(m0.decoder).toBe(4 * 32 * 16 + 2 * block + 4 * 16 * 3072);
  });
});

describe('paramCounts', () => {
  it('atto: encoder 3.39M, decoder 3.87M (spec §3)', () => {
    const p = paramCounts(modelConfig('atto'));
    expect((p.encoder / 1e6).toFixed(2)).toBe('3.39');
    expect((p.decoder / 1e6).toFixed(2)).toBe('3.87');
    expect(p.total).toBe(p.encoder + p.decoder);
  });
});

describe('memoryEstimate', () => {
  it('stage-0 activations equal the dense network shape N·(H/4)²·4·d0 in the dense ablation', () => {
    const c = modelConfig('atto');
    const m = memoryEstimate(c, { inputSize: 224, visible: 19, denseEncoder: true, batchSize: 64 });
    // the largest buffer is a (rows, 4·d0) stage-0 MLP activation: 64 · 56² · 160 floats
    expect(m.largestBufferBytes).toBe(64 * 56 * 56 * 160 * 4);
    expect(m.largestBufferName).toBe('encoder.stages.0.0/h');
    const sparse = memoryEstimate(c, { inputSize: 224, visible: 19, denseEncoder: false, batchSize: 64 });
    expect(sparse.largestBufferBytes).toBe(64 * 19 * 64 * 160 * 4);
  });

  it('parameter state is 4 copies; activations grow linearly with the batch', () => {
    const c = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
    const shape = { inputSize: 64, visible: 2, denseEncoder: false };
    const m1 = memoryEstimate(c, { ...shape, batchSize: 1 });
    const m2 = memoryEstimate(c, { ...shape, batchSize: 2 });
    const m3 = memoryEstimate(c, { ...shape, batchSize: 3 });
    // affine in N: fixed parameter state plus per-sample buffers
    expect(m3.totalBytes - m2.totalBytes).toBe(m2.totalBytes - m1.totalBytes);
    const fixed = 2 * m1.totalBytes - m2.totalBytes;
    const params = paramCounts(c).total;
    // 4 float copies of every parameter, plus ≤ 64 floats of 256-byte alignment per tensor (< 100 tensors here)
    expect(fixed).toBeGreaterThanOrEqual(params * 16);
    expect(fixed).toBeLessThan(params * 16 + 4 * 4 * 64 * 100);
  });

  it('non-square inputs: H×W images and (H/32)·(W/32) patches; square by default', () => {
    const c = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
    const base = { visible: 4, denseEncoder: false, batchSize: 2 };
    expect(memoryEstimate(c, { ...base, inputSize: 64, height: 64, width: 64 })).toEqual(memoryEstimate(c, { ...base, inputSize: 64 }));
    // 96×64 has 6 patches, 64×64 has 4, all visible: every per-patch and per-pixel buffer grows by 3/2
    const wide = memoryEstimate(c, { ...base, visible: 6, inputSize: 64, height: 64, width: 96 });
    const square = memoryEstimate(c, { ...base, inputSize: 64 });
    const fixed = 4 * paramTable(c).totalFloats * 4;
    expect(wide.totalBytes - fixed).toBe(1.5 * (square.totalBytes - fixed));
  });

  it('fitsAdapter names the buffer and limit when too large', () => {
    const big = memoryEstimate(modelConfig('base'), { inputSize: 224, visible: 19, denseEncoder: false, batchSize: 512 });
    const v = fitsAdapter(big, { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 });
    expect(v.fits).toBe(false);
    // 512 · 19 · 64 · 512 floats = 1.2 GiB in each stage-0 MLP activation
    expect(v.reason ?? '').toMatch(/lower the batch size/);
    // huge: 660M weights × 4 bytes = 2.5 GiB in one buffer
    const huge = fitsAdapter(memoryEstimate(modelConfig('huge'), { inputSize: 224, visible: 19, denseEncoder: false, batchSize: 1 }), { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 });
    expect(huge.reason).toMatch(/buffer params needs 2\.\d GiB, above this adapter's 1\.0 GiB per buffer: the weights alone are too large/);
    expect(fitsAdapter(memoryEstimate(modelConfig('atto'), { inputSize: 160, visible: 10, denseEncoder: false, batchSize: 16 }), { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 }).fits).toBe(true);
  });
});

describe('GRN on/off', () => {
  const depths = [1, 1, 2, 1];
  const dims = [8, 16, 24, 32];
  const on = customConfig(depths, dims, 16, 1);
  const off = customConfig(depths, dims, 16, 1, false);
  const shape = { inputSize: 64, visible: 2, denseEncoder: false, batchSize: 2 };

  it('parameters: 8C fewer per block, encoder and decoder', () => {
    const a = paramCounts(on);
    const b = paramCounts(off);
    expect(a.encoder - b.encoder).toBe(8 * (8 + 16 + 2 * 24 + 32));
    expect(a.decoder - b.decoder).toBe(8 * 16);
  });

  it('MACs do not count GRN; the every-op step FLOPs do', () => {
    expect(macsPerImage(off, shape)).toEqual(macsPerImage(on, shape));
    const flopsOn = trainingStepFlops(on, shape);
    expect(flopsOn).toBe(fcmaeStepFlops(on, { batchSize: 2, height: 64, width: 64, visible: 2 }).total);
    expect(trainingStepFlops(off, shape)).toBeLessThan(flopsOn);
    // the step options the page shows are counted as the plan runs them
    const step = { batchSize: 2, height: 64, width: 64, visible: 2 };
    const plain = trainingStepFlops(on, shape, { grnMode: 'batch', normPix: false });
    expect(plain).toBe(fcmaeStepFlops(on, step, { denseEncoder: false, grnMode: 'batch', normPix: false }).total);
    expect(plain).not.toBe(flopsOn);
  });

  it('memory: one (rows, 4C) GRN output per block less', () => {
    // rows N·V·r² per stage (V = 2), N·L = 8 in the decoder; 4C floats each
    const grnFloats = 4 * (2 * 2 * 64 * 8 + 2 * 2 * 16 * 16 + 2 * (2 * 2 * 4 * 24) + 2 * 2 * 32 + 8 * 16);
    const delta = memoryEstimate(on, shape).totalBytes - memoryEstimate(off, shape).totalBytes;
    const paramState = 16 * (paramTable(on).totalFloats - paramTable(off).totalFloats); // params, grads, m, v
    expect(delta).toBe(4 * grnFloats + paramState);
  });
});

describe('formatting', () => {
  it('counts and bytes', () => {
    expect(formatCount(3_387_000)).toBe('3.39M');
    expect(formatCount(550_000_000)).toBe('550M');
    expect(formatCount(1_234_567_890)).toBe('1.23G');
    expect(formatCount(950)).toBe('950');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.0 GiB');
    expect(formatBytes(5.5 * 2 ** 20)).toBe('5.5 MiB');
    expect(formatBytes(2048)).toBe('2 KiB');
  });
});

describe('assertClassifierFits', () => {
  it('refuses a classification batch whose stage-0 activations exceed the per-buffer limit, naming them', () => {
    const limits = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };
    // atto at 224 px: 49 patches · 64 sites · 160 channels · 4 bytes = 2 MiB per image
    expect(() => assertClassifierFits({ dims: [40, 80, 160, 320] }, { batchSize: 32, inputSize: 224, paramFloats: 4e6 }, limits)).not.toThrow();
    expect(() => assertClassifierFits({ dims: [40, 80, 160, 320] }, { batchSize: 128, inputSize: 224, paramFloats: 4e6 }, limits)).toThrow(/batch 128 of 224×224 images does not fit this adapter for classification: buffer stage 0 expansion activations needs 245 MiB, above this adapter's 128 MiB per buffer: lower the batch size/);
  });
});
