// The `reconstruct` command end to end: a native checkpoint and a generated image folder in, a
// grid PNG out whose every panel is checked (the original view, the masked input, the model's
// prediction as the engine computes it in-process, the pasted result) and whose printed loss
// equals the engine's. An encoder-only official file works too, with its warning.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvalBatch } from '../../../src/data/augment.ts';
import { normalisedToRgba } from '../../../src/data/display.ts';
import { decodeFolder, indexFolder } from '../../../src/data/node-folder.ts';
import { fromCanonical } from '../../../src/io/name-schemes.ts';
import { writeNativeCheckpoint } from '../../../src/io/native-checkpoint.ts';
import { writeTorchCheckpoint } from '../../../src/io/pytorch.ts';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { initialParams, paramTable } from '../../../src/model/parameters.ts';
import { stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { generateMasks, keptCount } from '../../../src/train/masking.ts';
import { Trainer } from '../../../src/train/trainer.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { runCli } from '../../helpers/cli.ts';
import { testEngine } from '../../helpers/gpu.ts';

const S = 64;
const GAP = 2;
const N = 5;
const RATIO = 0.5;
const SEED = 3;
const config = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
const table = paramTable(config);
const flat = initialParams(table, new Random(21));

let root = '';
let data = '';
let nativePath = '';

async function writeFolder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 6; i++) {
    const w = 70 + 10 * i;
    const h = 64 + 6 * i;
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([(x * 255) / w, (y * 255) / h, (i * 40) % 256], (y * w + x) * 3);
    const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
    writeFileSync(join(dir, `im${i}.${i % 2 ? 'png' : 'jpg'}`), i % 2 ? await img.png().toBuffer() : await img.jpeg().toBuffer());
  }
  writeFileSync(join(dir, 'todo.txt'), 'text\n');
}

async function decodePng(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data: px, info } = await sharp(readFileSync(path)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(px.buffer, px.byteOffset, px.byteLength) };
}

/** The 32×32 patch p (2×2 grid at 64 px) of grid panel (row, col), as RGBA bytes. */
function patch(png: { width: number; data: Uint8Array }, row: number, col: number, p: number): Uint8Array {
  const out = new Uint8Array(32 * 32 * 4);
  const x0 = GAP + col * (S + GAP) + (p % 2) * 32;
  const y0 = GAP + row * (S + GAP) + Math.floor(p / 2) * 32;
  for (let y = 0; y < 32; y++) out.set(png.data.subarray(((y0 + y) * png.width + x0) * 4, ((y0 + y) * png.width + x0 + 32) * 4), y * 32 * 4);
  return out;
}

function patchOf(rgba: Uint8ClampedArray, p: number): Uint8Array {
  const out = new Uint8Array(32 * 32 * 4);
  const x0 = (p % 2) * 32;
  const y0 = Math.floor(p / 2) * 32;
  for (let y = 0; y < 32; y++) out.set(rgba.subarray(((y0 + y) * S + x0) * 4, ((y0 + y) * S + x0 + 32) * 4), y * 32 * 4);
  return out;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fcmae-reconstruct-'));
  data = join(root, 'images');
  await writeFolder(data);
  nativePath = join(root, 'model.safetensors');
  writeFileSync(
    nativePath,
    writeNativeCheckpoint({
      config,
      options: DEFAULT_STEP_OPTIONS,
      training: { inputSize: S, batchSize: 2, maskRatio: 0.6, visiblePatches: keptCount((S / 32) ** 2, 0.6), blr: 1.5e-4, warmupSteps: 0, totalSteps: 10, seed: 0 },
      step: 0,
      data: { source: 'test', imageCount: 6 },
      params: stateDictFromFlat(table, flat),
    }),
  );
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('fcmae reconstruct', () => {
  it('writes the grid of a native checkpoint; loss and prediction equal the engine in-process', async () => {
    const out = join(root, 'grid.png');
    const r = runCli(['reconstruct', '--checkpoint', nativePath, '--images', data, '--mask-ratio', String(RATIO), '--seed', String(SEED), '--count', String(N), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped todo\.txt: not an image/);
    expect(r.stderr).toMatch(/model\.safetensors: canonical names, custom .*: \d+ tensors loaded/);
    const m = r.stdout.match(/^loss (\S+) on 5 images, 2\/4 visible \(mask ratio 0\.5\) \(64 px\); predictions de-normalised with each true patch mean and std/m);
    expect(m, r.stdout).not.toBeNull();

    // The same computation in-process: same decode, same eval view, same seeded mask.
    const folder = await decodeFolder(await indexFolder(data), { shorterSide: Math.trunc(S / 0.875) });
    const images = makeEvalBatch(folder.images, [0, 1, 2, 3, 4], S); // (N, 3, S, S)
    const mask = generateMasks(N, 4, keptCount(4, RATIO), new Random(SEED)); // (N, L)
    const engine = await testEngine();
    const trainer = await Trainer.create(engine, { config, batchSize: N, height: S, width: S, visible: keptCount((S / 32) ** 2, RATIO), options: DEFAULT_STEP_OPTIONS, learningRate: () => 0, seed: 0 }, flat);
    const rec = await trainer.reconstruct(images, mask);
    trainer.destroy();
    // printed with 6 significant digits
    expect(Number(m![1])).toBeCloseTo(rec.loss, 5 - Math.ceil(Math.log10(Math.abs(rec.loss))));

    const png = await decodePng(out);
    expect([png.width, png.height]).toEqual([4 * S + 5 * GAP, N * S + (N + 1) * GAP]);
    for (let n = 0; n < N; n++) {
      const original = normalisedToRgba(images, n, S, S);
      const predicted = normalisedToRgba(rec.predicted, n, S, S);
      for (let p = 0; p < 4; p++) {
        const masked = mask[n * 4 + p] === 1;
        const label = `image ${n} patch ${p} (${masked ? 'masked' : 'visible'})`;
        // exact: lossless PNG of normalisedToRgba bytes
        expectAllClose(patch(png, n, 0, p), patchOf(original, p), { atol: 0, rtol: 0, label: `${label} original` });
        // masked patches show the dataset mean colour (normalised 0), visible ones the image
        const meanColour = Uint8Array.from({ length: 32 * 32 * 4 }, (_, i) => [124, 116, 104, 255][i % 4]!);
        expectAllClose(patch(png, n, 1, p), masked ? meanColour : patchOf(original, p), { atol: 0, rtol: 0, label: `${label} masked input` });
        // same GPU code and inputs in another process: a byte may flip where f32 noise straddles .5
        expectAllClose(patch(png, n, 2, p), patchOf(predicted, p), { atol: 1, rtol: 0, label: `${label} prediction` });
        expectAllClose(patch(png, n, 3, p), masked ? patch(png, n, 2, p) : patchOf(original, p), { atol: 0, rtol: 0, label: `${label} pasted` });
      }
    }
  }, 300_000);

  it('an encoder-only official file: decoder initialised, with a warning', () => {
    const encoder = new Map([...stateDictFromFlat(table, flat)].filter(([name]) => name.startsWith('encoder.')));
    const path = join(root, 'convnextv2_custom_fcmae.pt');
    writeFileSync(path, writeTorchCheckpoint(fromCanonical(encoder, 'official-dense').tensors));
    const out = join(root, 'encoder-only.png');
    const r = runCli(['reconstruct', '--checkpoint', path, '--images', data, '--input-size', '64', '--mask-ratio', '0.25', '--count', '2', '--decoder-dim', '16', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('official-dense names');
    expect(r.stderr).toContain('decoder not in file: initialised');
    expect(r.stderr).toMatch(/warning: .* has no decoder: .*meaningless/);
    expect(r.stdout).toMatch(/^loss \S+ on 2 images, 3\/4 visible \(mask ratio 0\.25\) \(64 px\)/m);
    expect(readFileSync(out).subarray(1, 4).toString()).toBe('PNG');
  }, 300_000);

  it('bad options exit 2 naming the option', () => {
    const cases: [string[], RegExp][] = [
      [['reconstruct', '--checkpoint', nativePath, '--images', data, '--out', join(root, 'x.jpg')], /--out .*x\.jpg: must name a \.png file/],
      [['reconstruct', '--checkpoint', nativePath, '--images', data, '--mask-ratio', '1', '--out', join(root, 'x.png')], /--mask-ratio 1: mask ratio 1 must be < 1/],
      [['reconstruct', '--checkpoint', nativePath, '--images', data, '--input-size', '100', '--out', join(root, 'x.png')], /--input-size 100: /],
      [['reconstruct', '--checkpoint', join(root, 'missing.safetensors'), '--images', data, '--out', join(root, 'x.png')], /--checkpoint .*missing\.safetensors: ENOENT/],
      [['reconstruct', '--checkpoint', nativePath, '--images', join(root, 'nowhere'), '--out', join(root, 'x.png')], /--images .*nowhere: cannot open dataset folder/],
      [['reconstruct', '--checkpoint', nativePath, '--out', join(root, 'x.png')], /--images is required/],
      [['reconstruct', '--checkpoint', nativePath, '--images', data, '--decoder-depth', '2', '--out', join(root, 'x.png')], /--decoder-depth: model\.safetensors has its own decoder \(1×16\)/],
    ];
    for (const [args, want] of cases) {
      const r = runCli(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n').pop(), args.join(' ')).toMatch(want);
    }
  }, 300_000);
});
