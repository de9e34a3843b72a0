// The `train` command end to end on a generated folder (12 small JPEG/PNG images, a corrupt
// JPEG and a text file): the loss falls, every output file is written and correct, a resumed
// run repeats the continuing run's steps exactly, a NaN loss stops the run cleanly, and bad
// options exit 2 naming the option.
// The images are vertical ramps (dark top, bright bottom) in different colours: every patch,
// once normalised (norm-pix target), is nearly the same ramp whatever the crop, so even a
// tiny model learns it within 30 steps and the fall of the loss is far above batch noise.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvalBatch } from '../../../src/data/augment.ts';
import { normalisedToRgba } from '../../../src/data/display.ts';
import { decodeFolder, indexFolder } from '../../../src/data/node-folder.ts';
import { readNativeCheckpoint, writeNativeCheckpoint } from '../../../src/io/native-checkpoint.ts';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { initialParams, paramTable } from '../../../src/model/parameters.ts';
import { stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { learningRateAt, makeLrSchedule } from '../../../src/train/lr-schedule.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { runCli } from '../../helpers/cli.ts';

const TINY = ['--depths', '1,1,1,1', '--dims', '8,16,24,32', '--decoder-dim', '16', '--decoder-depth', '1', '--input-size', '64'];
const SETTINGS = ['--batch-size', '2', '--steps', '30', '--blr', '3', '--warmup', '3', '--seed', '11'];
const S = 64;
const GAP = 2;

interface Metric {
  step: number;
  loss: number;
  lr: number;
  step_ms: number;
  images_per_s: number;
}

async function writeRampFolder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 12; i++) {
    const w = 80 + 8 * i;
    const h = 72 + 4 * (i % 5);
    const base = [(i * 73) % 200, (i * 151 + 60) % 200, (i * 37 + 120) % 200];
    const data = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, base[c]! * 0.5 + 180 * (y / h) + 10 * Math.sin(x / 5 + c)));
    const img = sharp(data, { raw: { width: w, height: h, channels: 3 } });
    const name = `img${String(i).padStart(2, '0')}`;
    if (i % 2) writeFileSync(join(dir, `${name}.png`), await img.png().toBuffer());
    else writeFileSync(join(dir, `${name}.jpg`), await img.jpeg({ quality: 92 }).toBuffer());
  }
  writeFileSync(join(dir, 'corrupt.jpg'), Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3, 4, 5]));
  writeFileSync(join(dir, 'notes.txt'), 'not an image\n');
}

async function decodePng(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(readFileSync(path)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Panel (row, col) of a grid of S×S panels with GAP-pixel borders, as (S, S, 4) RGBA. */
function panel(png: { width: number; data: Uint8Array }, row: number, col: number): Uint8Array {
  const out = new Uint8Array(S * S * 4);
  const x0 = GAP + col * (S + GAP);
  const y0 = GAP + row * (S + GAP);
  for (let y = 0; y < S; y++) out.set(png.data.subarray(((y0 + y) * png.width + x0) * 4, ((y0 + y) * png.width + x0 + S) * 4), y * S * 4);
  return out;
}

function std(rgba: Uint8Array): number {
  let s = 0;
  let s2 = 0;
  const n = rgba.length / 4;
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++) {
      s += rgba[i * 4 + c]!;
      s2 += rgba[i * 4 + c]! ** 2;
    }
  const m = s / (3 * n);
  return Math.sqrt(s2 / (3 * n) - m * m);
}

const readMetrics = (dir: string): Metric[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Metric);

let root = '';
let data = '';
let runA = '';
let runAResult: ReturnType<typeof runCli>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fcmae-train-'));
  data = join(root, 'data');
  await writeRampFolder(data);
  runA = join(root, 'runA');
  // ~40 s alone here; several times that when other jobs share the 2 cores
  runAResult = runCli(['train', '--data', data, ...TINY, ...SETTINGS, '--out', runA, '--checkpoint-every', '27', '--log-every', '10'], { timeoutMs: 580_000 });
}, 600_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('fcmae train', () => {
  it('lowers the loss and writes metrics.jsonl, skipped.tsv, checkpoints and a reconstruction grid', async () => {
    const r = runAResult;
    expect(r.code, r.stderr).toBe(0);
    // every skipped file on stderr with its reason, and in skipped.tsv
    expect(r.stderr).toMatch(/skipped corrupt\.jpg: .*\(decode-failed\)/);
    expect(r.stderr).toMatch(/skipped notes\.txt: not an image .*\(not-image\)/);
    const tsv = readFileSync(join(runA, 'skipped.tsv'), 'utf8').trim().split('\n');
    expect(tsv[0]).toBe('path\tcode\treason');
    expect(tsv.slice(1).map((l) => l.split('\t').slice(0, 2).join(' '))).toEqual(['corrupt.jpg decode-failed', 'notes.txt not-image']);
    expect(r.stdout).toMatch(/data: 12 images/);
    expect(r.stdout).toMatch(/^step 10\/30 {2}loss \d\.\d{4} {2}lr \S+ {2}[\d.]+ img\/s {2}ETA \d+:\d\d$/m);

    const metrics = readMetrics(runA);
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    // lr of trainer step k is the schedule's iteration k − 1 (step 1 runs at lr 0, as the recipe)
    const schedule = makeLrSchedule({ blr: 3, batch: 2, warmupSteps: 3, totalSteps: 30 });
    expect(metrics.map((m) => m.lr)).toEqual(metrics.map((m) => learningRateAt(m.step - 1, schedule)));
    for (const m of metrics) {
      expect(Number.isFinite(m.loss) && m.loss > 0, `step ${m.step} loss ${m.loss}`).toBe(true);
      expect(m.step_ms > 0 && m.images_per_s > 0).toBe(true);
      // both are rounded to 3 decimals: step_ms's rounding (±0.0005 ms) dominates when a pipelined step takes < 1 ms,
      // images_per_s's own (±0.0005 images/s) when a step is slow (a loaded machine: a few images/s)
      const ips = (2 * 1000) / m.step_ms;
      expect(Math.abs(m.images_per_s - ips) / ips, `step ${m.step}: ${m.images_per_s} images/s at ${m.step_ms} ms`).toBeLessThan(0.0005 / m.step_ms + 0.0005 / ips + 1e-6);
    }
    const mean = (a: Metric[]) => a.reduce((s, m) => s + m.loss, 0) / a.length;
    const first5 = mean(metrics.slice(0, 5));
    const last5 = mean(metrics.slice(-5));
    // Seen: 0.95 → 0.48. A fall of 25% is far beyond the batch-to-batch noise (about ±0.2 late in the run).
    expect(last5, `first-5 mean ${first5}, last-5 mean ${last5}`).toBeLessThan(0.75 * first5);
    expect(metrics[0]!.loss).toBeCloseTo(1, 1); // an untrained model predicts ≈0 for a unit-variance target

    // checkpoints at 27 (periodic) and 30 (final), each with the full state
    for (const step of [27, 30]) {
      const path = join(runA, `checkpoint-0000${step}.safetensors`);
      const ckpt = readNativeCheckpoint(new Uint8Array(readFileSync(path)), path);
      expect(ckpt.step).toBe(step);
      expect(ckpt.training).toEqual({ inputSize: 64, batchSize: 2, maskRatio: 0.6, visiblePatches: 1, blr: 3, warmupSteps: 3, totalSteps: 30, seed: 11 });
      expect(ckpt.data.imageCount).toBe(12);
      expect(ckpt.adamw?.step).toBe(step);
      expect(ckpt.params.has('mask_token') && ckpt.params.has('pred.weight')).toBe(true);
      expect(existsSync(join(runA, `reconstruction-0000${step}.png`))).toBe(true);
    }
    expect(existsSync(join(runA, 'checkpoint-000010.safetensors'))).toBe(false);

    // The grid: 8 rows (eval images) × 4 panels; column 0 is exactly the evaluation view.
    const png = await decodePng(join(runA, 'reconstruction-000030.png'));
    expect([png.width, png.height]).toEqual([4 * S + 5 * GAP, 8 * S + 9 * GAP]);
    const folder = await decodeFolder(await indexFolder(data), { shorterSide: Math.trunc(S / 0.875) });
    const evalIndices = Array.from({ length: 8 }, (_, i) => Math.floor((i * 12) / 8));
    const evalBatch = makeEvalBatch(folder.images, evalIndices, S);
    for (let row = 0; row < 8; row++) {
      const original = panel(png, row, 0);
      // exact: PNG is lossless and the grid copies normalisedToRgba's bytes
      expectAllClose(original, normalisedToRgba(evalBatch, row, S, S), { atol: 0, rtol: 0, label: `row ${row} original`, shape: [S, S, 4] });
      for (let col = 1; col < 4; col++) expect(std(panel(png, row, col)), `row ${row} column ${col} is blank`).toBeGreaterThan(3);
      // the reconstruction is the model's, not a copy of the input
      expect(Buffer.compare(Buffer.from(panel(png, row, 2)), Buffer.from(original))).not.toBe(0);
    }
  }, 300_000);

  it('resuming from a checkpoint with AdamW state repeats the continuing run exactly', () => {
    expect(runAResult.code, runAResult.stderr).toBe(0);
    const runB = join(root, 'runB');
    const r = runCli(['train', '--data', data, '--resume', join(runA, 'checkpoint-000027.safetensors'), '--out', runB, '--log-every', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('resuming from');
    const a = readMetrics(runA).slice(27);
    const b = readMetrics(runB);
    expect(b.map((m) => m.step)).toEqual([28, 29, 30]);
    expect(b.map((m) => m.lr)).toEqual(a.map((m) => m.lr));
    // Same weights, moments, batches, masks and kernels: identical up to f32 rounding noise.
    expectAllClose(
      b.map((m) => m.loss),
      a.map((m) => m.loss),
      { atol: 0, rtol: 1e-6, label: 'losses of steps 28-30' },
    );
    const final = (dir: string) => readNativeCheckpoint(new Uint8Array(readFileSync(join(dir, 'checkpoint-000030.safetensors'))));
    const ca = final(runA);
    const cb = final(runB);
    expect(cb.settingsHash).toBe(ca.settingsHash);
    for (const [name, t] of ca.params) {
      // f32 rounding noise only: three AdamW steps from identical state
      expectAllClose(cb.params.get(name)!.data, t.data, { atol: 1e-7, rtol: 1e-5, label: `params ${name}`, shape: t.shape });
      expectAllClose(cb.adamw!.v.get(name)!.data, ca.adamw!.v.get(name)!.data, { atol: 1e-12, rtol: 1e-5, label: `AdamW v ${name}`, shape: t.shape });
    }
  }, 300_000);

  it('a NaN loss stops the run with a clear message and writes no checkpoint over the last good one', () => {
    // Weights with one NaN in the prediction bias: the very first loss is NaN.
    const config = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
    const table = paramTable(config);
    const params = stateDictFromFlat(table, initialParams(table, new Random(1)));
    params.get('pred.bias')!.data[5] = NaN;
    const bad = join(root, 'nan.safetensors');
    writeFileSync(
      bad,
      writeNativeCheckpoint({
        config,
        options: DEFAULT_STEP_OPTIONS,
        training: { inputSize: 64, batchSize: 2, maskRatio: 0.6, visiblePatches: 1, blr: 1.5e-4, warmupSteps: 1, totalSteps: 4, seed: 0 },
        step: 0,
        data: { source: data, imageCount: 12 },
        params,
      }),
    );
    const out = join(root, 'nan-run');
    const r = runCli(['train', '--data', data, '--resume', bad, '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^fcmae train: loss became NaN at step 1: training stopped; last good checkpoint .*nan\.safetensors \(step 0\); lower --blr/);
    expect(readdirSync(out).filter((f) => f.startsWith('checkpoint-'))).toEqual([]);
    expect(existsSync(join(out, 'metrics.jsonl')) ? readFileSync(join(out, 'metrics.jsonl'), 'utf8') : '').toBe('');
  }, 300_000);

  it('bad options exit 2 with a one-line reason naming the option', () => {
    expect(runAResult.code, runAResult.stderr).toBe(0);
    const empty = join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, 'readme.txt'), 'no images here\n');
    const out = join(root, 'bad');
    const base = ['train', '--data', data, ...TINY, '--out', out];
    const cases: [string[], RegExp][] = [
      [[...base, '--batch-size', '0'], /--batch-size 0: must be ≥ 1/],
      [[...base, '--mask-ratio', '1'], /--mask-ratio 1: mask ratio 1 must be < 1/],
      [[...base, '--mask-ratio', '0.8'], /--mask-ratio 0\.8: .*keeps floor\(4·\(1 − 0\.8\)\) = 0 of 4 patches/],
      [['train', '--data', data, ...TINY.slice(0, -2), '--input-size', '50', '--out', out], /--input-size 50: input height 50 must be a multiple of 32/],
      [[...base, '--steps', '0'], /--steps 0: must be ≥ 1/],
      [[...base, '--steps', '10', '--warmup', '20'], /--warmup: warmup steps 20 exceed total steps 10/],
      [[...base, '--blr', '1e6'], /--blr: learning rate .* is above 1/],
      [[...base, '--blr', 'fast'], /--blr fast: not a number/],
      [['train', '--data', data, '--model', 'gigantic'], /--model gigantic: expected one of atto, femto/],
      [['train', '--data', data, '--depths', '1,1,1'], /--depths 1,1,1: expected 4 positive integers/],
      [['train', '--data', data], /give --model NAME .* or both --depths/],
      [['train', ...TINY], /--data is required/],
      [['train', '--data', join(root, 'nowhere'), ...TINY], /--data .*nowhere: cannot open dataset folder/],
      [['train', '--data', empty, ...TINY, '--out', join(root, 'empty-run')], /--data .*empty: no decodable images \(1 files skipped\)/],
      [['train', '--data', data, ...TINY, '--out', runA], /--out .*runA: already holds a run/],
      [['train', '--data', data, '--resume', join(runA, 'checkpoint-000027.safetensors'), '--batch-size', '4', '--out', out], /--batch-size 4 differs from checkpoint-000027\.safetensors's 2/],
      [['train', '--data', data, '--resume', join(runA, 'checkpoint-000030.safetensors'), '--out', out], /--steps 30: checkpoint-000030\.safetensors is already at step 30/],
      [['train', '--data', data, '--resume', join(data, 'img01.png'), '--out', out], /--resume img01\.png: .*not a safetensors file/],
    ];
    for (const [args, want] of cases) {
      const r = runCli(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      const last = r.stderr.trim().split('\n').pop()!;
      expect(last, args.join(' ')).toMatch(/^fcmae train: /);
      expect(last, args.join(' ')).toMatch(want);
    }
    // the skipped list is written even when nothing in the folder could be used
    expect(readFileSync(join(root, 'empty-run', 'skipped.tsv'), 'utf8')).toContain('readme.txt\tnot-image');
  }, 300_000);
});
