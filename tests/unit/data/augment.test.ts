// Augmentation maths against torchvision 0.14 + Pillow 9.4 (fixture from
// tests/reference/gen_augment.py) and against the analytic crop-box distribution.
import { describe, expect, it } from 'vitest';
import {
  FCMAE_CROP,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type AugmentParams,
  augmentInto,
  denormaliseToRgba,
  evalView,
  makeBatch,
  makeEvalBatch,
  normaliseByte,
  normaliseInto,
  pythonRound,
  sampleCropBox,
} from '../../../src/data/augment.ts';
import { ImageShapeError, type PixelImage, resampleBox } from '../../../src/data/image.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

const fx = loadFixture('data/augment');

function fixtureImage(name: string): PixelImage {
  const t = fx.get(`image_${name}`); // (H, W, 3)
  return { height: t.shape[0]!, width: t.shape[1]!, channels: 3, data: Uint8Array.from(t.data) };
}

interface CaseMeta {
  image: string;
  top: number;
  left: number;
  height: number;
  width: number;
  size: number;
  flip: boolean;
  interpolation: 'bicubic' | 'bilinear';
}

describe('resampling and normalisation match torchvision on PIL images', () => {
  const cases = fx.meta.cases as CaseMeta[];

  it.each(cases.map((c, k) => [k, c] as const))('case %i: resized_crop to uint8 is bit-exact with Pillow', (k, c) => {
    const rgb = resampleBox(fixtureImage(c.image), c, c.size, c.size, c.interpolation);
    // Same fixed-point arithmetic as Pillow: any difference is a bug, so no tolerance.
    expectAllClose(rgb, fx.get(`crop_u8_${k}`).data, { atol: 0, rtol: 0, label: `crop_u8_${k}`, shape: [c.size, c.size, 3] });
  });

  it.each(cases.map((c, k) => [k, c] as const))('case %i: crop + flip + ToTensor + Normalize equals torchvision', (k, c) => {
    const rgb = resampleBox(fixtureImage(c.image), c, c.size, c.size, c.interpolation);
    const out = new Float32Array(3 * c.size * c.size);
    normaliseInto(rgb, c.size, c.flip, out, 0);
    // ToTensor/Normalize are float32 elementwise ops, reproduced with Math.fround: bit-exact.
    expectAllClose(out, fx.get(`train_${k}`).data, { atol: 0, rtol: 0, label: `train_${k}`, shape: [3, c.size, c.size] });
  });

  it('evaluation view: Resize(int(S/cropPct)) + CenterCrop(S) equals torchvision (ties rounded to even)', () => {
    const evals = fx.meta.eval as { image: string; size: number; cropPct: number }[];
    evals.forEach((e, k) => {
      const out = makeEvalBatch([fixtureImage(e.image)], [0], e.size, { cropPct: e.cropPct });
      // Integer resampling then float32 normalisation, as torchvision: bit-exact.
      expectAllClose(out, fx.get(`eval_${k}`).data, { atol: 0, rtol: 0, label: `eval_${k}`, shape: [3, e.size, e.size] });
    });
    expect(() => evalView(fixtureImage('noise'), 8, { cropPct: 1.5 })).toThrow(ImageShapeError);
  });

  it('normalisation of single bytes against hand-computed values', () => {
    const cases: [number, number, number][] = [
      [0, 0, (0 - 0.485) / 0.229], // −2.1179039…
      [255, 2, (1 - 0.406) / 0.225], // 2.64
      [128, 1, (128 / 255 - 0.456) / 0.224], // 0.2051821…
      [124, 0, (124 / 255 - 0.485) / 0.229], // ≈ 0.0055 (mean pixel)
    ];
    const got = cases.map(([v, c]) => normaliseByte(v, c));
    // Float32 result of float32 ops: within a few float32 ulps (|x| < 3 → ulp ≤ 2.4e-7).
    expectAllClose(got, cases.map((x) => x[2]), { atol: 1e-6, rtol: 0, label: 'normaliseByte' });
    expect(normaliseByte(0, 0)).toBeCloseTo(-2.1179039301310043, 6);
  });
});

describe('RandomResizedCrop.get_params', () => {
  it('Python round: ties to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, 3].map(pythonRound)).toEqual([0, 2, 2, -0, -2, -2, 2, 3, 3]);
  });

  it('falls back to torchvision central crop on images too elongated for any attempt', () => {
    const rng = new Random(1);
    for (const f of fx.meta.fallback as { width: number; height: number; top: number; left: number; cropHeight: number; cropWidth: number }[]) {
      const box = sampleCropBox(f.width, f.height, rng);
      expect(box, `${f.width}×${f.height}`).toEqual({ top: f.top, left: f.left, height: f.cropHeight, width: f.cropWidth, fallback: true });
    }
    // In-range aspect but every attempt too large is impossible with scale ≤ 1; a 1×1 image
    // always accepts w = h = 1 without fallback.
    expect(sampleCropBox(1, 1, rng)).toEqual({ top: 0, left: 0, height: 1, width: 1, fallback: false });
  });

  // Expected area fraction of accepted crops: s ~ U[0.2, 1], t = log r ~ U[log 3/4, log 4/3],
  // accepted when s·r ≤ W/H and s/r ≤ H/W. Midpoint quadrature over (s, t).
  function analytic(width: number, height: number): { meanArea: number; acceptProb: number } {
    const n = 2000;
    const [s0, s1] = FCMAE_CROP.scale;
    const t0 = Math.log(FCMAE_CROP.ratio[0]);
    const t1 = Math.log(FCMAE_CROP.ratio[1]);
    let mass = 0;
    let sum = 0;
    for (let a = 0; a < n; a++) {
      const s = s0 + ((a + 0.5) / n) * (s1 - s0);
      for (let b = 0; b < n; b++) {
        const r = Math.exp(t0 + ((b + 0.5) / n) * (t1 - t0));
        if (s * r <= width / height && s / r <= height / width) {
          mass++;
          sum += s;
        }
      }
    }
    return { meanArea: sum / mass, acceptProb: mass / (n * n) };
  }

  it('square image: the closed form and the quadrature agree (checks the quadrature itself)', () => {
    // ∫∫ s over {s ≤ e^{−|t|}} / area, c = log 4/3: ((1 − e^{−2c})/4 − 0.02c) / ((1 − e^{−c}) − 0.2c).
    const c = Math.log(4 / 3);
    const closed = ((1 - Math.exp(-2 * c)) / 4 - 0.02 * c) / (1 - Math.exp(-c) - 0.2 * c);
    // Midpoint rule with 2000² cells: error O(1/n) at the boundary curve, well under 1e-3.
    expect(Math.abs(analytic(1000, 1000).meanArea - closed)).toBeLessThan(1e-3);
    expect(closed).toBeCloseTo(0.5384, 3);
  });

  it.each([
    [1000, 1000],
    [1200, 600],
    [480, 640],
  ])('%i×%i: boxes in range, mean area fraction and fallback rate as predicted', (width, height) => {
    const rng = new Random(20240611 + width);
    const draws = 20000;
    const { meanArea, acceptProb } = analytic(width, height);
    const areas: number[] = [];
    let fallbacks = 0;
    for (let k = 0; k < draws; k++) {
      const b = sampleCropBox(width, height, rng);
      expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= height && b.left + b.width <= width).toBe(true);
      if (b.fallback) {
        fallbacks++;
        continue;
      }
      const area = (b.width * b.height) / (width * height);
      const aspect = b.width / b.height;
      // w, h are rounded to integers (≥ 300 px here): area and aspect may leave the nominal
      // range by the rounding only, ≤ ~0.5/300 relative per side.
      if (!(area >= 0.2 - 4e-3 && area <= 1 && aspect >= 0.75 - 5e-3 && aspect <= 4 / 3 + 5e-3)) {
        throw new Error(`draw ${k}: box ${JSON.stringify(b)} area ${area} aspect ${aspect} outside [0.2, 1] × [3/4, 4/3]`);
      }
      areas.push(area);
    }
    const mean = areas.reduce((a, b) => a + b, 0) / areas.length;
    const sd = Math.sqrt(areas.reduce((a, b) => a + (b - mean) ** 2, 0) / (areas.length - 1));
    // 4 standard errors of the sample mean, plus 2e-3 for integer rounding of w and h.
    const tol = (4 * sd) / Math.sqrt(areas.length) + 2e-3;
    expect(Math.abs(mean - meanArea), `mean area ${mean} vs analytic ${meanArea} (tol ${tol})`).toBeLessThan(tol);
    // Fallback only after 10 rejected attempts: probability (1 − p)^10.
    const pFallback = (1 - acceptProb) ** 10;
    const sdFallback = Math.sqrt((pFallback * (1 - pFallback)) / draws);
    // 4 standard errors of a binomial proportion (+1/draws so a ~0 rate allows no more than 1 hit).
    expect(Math.abs(fallbacks / draws - pFallback), `fallback rate ${fallbacks / draws} vs ${pFallback}`).toBeLessThanOrEqual(4 * sdFallback + 1 / draws);
  });
});

function randomImage(width: number, height: number, seed: number): PixelImage {
  const rng = new Random(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width, height, channels: 3, data };
}

describe('batches', () => {
  const images = [randomImage(40, 30, 1), randomImage(25, 50, 2), randomImage(64, 64, 3)];
  const S = 16;
  const per = 3 * S * S;

  it('each sample equals resample(box) → flip → normalise with its recorded params', () => {
    const params: AugmentParams[] = [];
    const batch = makeBatch(images, [2, 0, 1, 0, 2, 1, 0, 2], S, new Random(5), { params });
    expect(batch.length).toBe(8 * per);
    expect(params.length).toBe(8);
    const idx = [2, 0, 1, 0, 2, 1, 0, 2];
    let flips = 0;
    params.forEach((p, n) => {
      const rgb = resampleBox(images[idx[n]!]!, p.box, S, S); // (S, S, 3), checked against Pillow above
      // Expected by hand: channel-planar, x mirrored when flipped.
      const expected = new Float32Array(per);
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < S; y++)
          for (let x = 0; x < S; x++) {
            const sx = p.flip ? S - 1 - x : x;
            expected[c * S * S + y * S + x] = Math.fround(Math.fround(Math.fround(rgb[(y * S + sx) * 3 + c]! / 255) - Math.fround(IMAGENET_MEAN[c]!)) / Math.fround(IMAGENET_STD[c]!));
          }
      // Same float32 operations in the same order: exact.
      expectAllClose(batch.subarray(n * per, (n + 1) * per), expected, { atol: 0, rtol: 0, label: `sample ${n}`, shape: [3, S, S] });
      if (p.flip) flips++;
    });
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(8);
  });

  it('a flipped view is the mirror image of the unflipped view of the same box', () => {
    const rgb = resampleBox(images[0]!, { top: 3, left: 4, height: 20, width: 25 }, S, S);
    const a = new Float32Array(per);
    const b = new Float32Array(per);
    normaliseInto(rgb, S, false, a, 0);
    normaliseInto(rgb, S, true, b, 0);
    const mirrored = new Float32Array(per);
    for (let c = 0; c < 3; c++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) mirrored[c * S * S + y * S + x] = a[c * S * S + y * S + (S - 1 - x)]!;
    expectAllClose(b, mirrored, { atol: 0, rtol: 0, label: 'flipped vs mirrored', shape: [3, S, S] });
  });

  it('flip probability is 0.5', () => {
    const rng = new Random(77);
    const out = new Float32Array(per);
    let flips = 0;
    const n = 4000;
    for (let k = 0; k < n; k++) if (augmentInto(images[2]!, 4, rng, out.subarray(0, 48), 0).flip) flips++;
    // 4 binomial standard errors: sqrt(0.25 / 4000) ≈ 0.0079.
    expect(Math.abs(flips / n - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / n));
  });

  it('seeded: same seed gives the same batch, another seed a different one', () => {
    const a = makeBatch(images, [0, 1, 2], S, new Random(42));
    const b = makeBatch(images, [0, 1, 2], S, new Random(42));
    const c = makeBatch(images, [0, 1, 2], S, new Random(43));
    expectAllClose(b, a, { atol: 0, rtol: 0, label: 'same seed' });
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== c[i]) differ++;
    expect(differ).toBeGreaterThan(a.length / 4);
    // Reusing an output buffer gives the same values.
    const out = new Float32Array(3 * per);
    makeBatch(images, [0, 1, 2], S, new Random(42), { out });
    expectAllClose(out, a, { atol: 0, rtol: 0, label: 'reused out' });
    expect(() => makeBatch(images, [3], S, new Random(1))).toThrow(/index 3 at batch position 0/);
    expect(() => makeBatch(images, [0], S, new Random(1), { out: new Float32Array(5) })).toThrow(ImageShapeError);
  });

  it('RGBA input gives the same result as its RGB part (alpha ignored)', () => {
    const rgb = images[0]!;
    const rgba = new Uint8ClampedArray(rgb.width * rgb.height * 4);
    for (let i = 0; i < rgb.width * rgb.height; i++) {
      rgba.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = (i * 37) % 256;
    }
    const a = makeBatch([rgb], [0, 0], S, new Random(9));
    const b = makeBatch([{ width: rgb.width, height: rgb.height, channels: 4, data: rgba }], [0, 0], S, new Random(9));
    expectAllClose(b, a, { atol: 0, rtol: 0, label: 'RGBA vs RGB' });
  });

  it('denormalise inverts normalise to the original bytes; reconstructions are clamped', () => {
    const rgb = resampleBox(images[1]!, { top: 0, left: 0, height: 50, width: 25 }, S, S);
    const batch = new Float32Array(2 * per);
    normaliseInto(rgb, S, false, batch, per); // sample 1
    const rgba = denormaliseToRgba(batch, 1, S);
    const back = new Uint8Array(S * S * 3);
    for (let i = 0; i < S * S; i++) back.set(rgba.subarray(i * 4, i * 4 + 3), i * 3);
    // Float32 round trip errs by ~1e-5 of a level, far from the 0.5 rounding boundary.
    expectAllClose(back, rgb, { atol: 0, rtol: 0, label: 'round trip' });
    for (let i = 0; i < S * S; i++) expect(rgba[i * 4 + 3]).toBe(255);
    batch.fill(10, 0, per); // far above the largest valid value (2.64)
    batch.fill(-10, 0, S * S);
    const clamped = denormaliseToRgba(batch, 0, S);
    expect([clamped[0], clamped[1], clamped[2]]).toEqual([0, 255, 255]);
    expect(() => denormaliseToRgba(batch, 2, S)).toThrow(/sample 2/);
  });
});
