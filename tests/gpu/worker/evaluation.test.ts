// The worker's evaluation API (evaluation-host.ts), run in Node on Dawn with the Node image
// decoder: fine-tuning a random encoder on a labelled folder gives the same losses bit for bit
// as the CLI's `finetune` with the same settings and seed (one fine-tuning run, two drivers);
// it can be cancelled mid-run and leaves pretraining as it was; embedding returns every labelled
// image's features; the activation grid equals the engine's maps for the same checkpoint, block
// and image, and `fcmae analyze --grid`'s PNG; an unlabelled data set is refused with what to do.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvalBatch } from '../../../src/data/augment.ts';
import { decodeFolder, decodeImageBlobWithSharp, indexFolder } from '../../../src/data/node-folder.ts';
import { activationGridImage } from '../../../src/io/activation-grid.ts';
import { classifierWeightsFrom, randomClassifierWeights } from '../../../src/io/classifier-weights.ts';
import { openAnyCheckpoint } from '../../../src/io/native-checkpoint.ts';
import { encodePng } from '../../../src/io/png.ts';
import { activationMaps } from '../../../src/train/feature-collapse.ts';
import { nodeGpu } from '../../../src/gpu/node-device.ts';
import { loadShadersFromDisk } from '../../../src/gpu/shader-library-node.ts';
import { decodeSizeFor, defaultRunConfig } from '../../../src/train/run-config.ts';
import { stratifiedSplit } from '../../../src/data/labelled-batches.ts';
import { knnPredict } from '../../../src/train/probes.ts';
import type { TrainingConfig, WorkerEvent } from '../../../src/worker/protocol.ts';
import { TrainingSession } from '../../../src/worker/session.ts';
import { compareClose } from '../../helpers/allclose.ts';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { testEngine } from '../../helpers/gpu.ts';
import { TEXTURE_CLASSES, writeTextureFolder } from '../../helpers/labelled-folder.ts';

const tmp = mkdtempSync(join(tmpdir(), 'fcmae-eval-'));
const dataDir = join(tmp, 'tex');
const FT = { totalSteps: 8, batchSize: 4, inputSize: 32, blr: 0.05, warmupSteps: 1 };
const SEED = 5;

let session: TrainingSession;
const events: WorkerEvent[] = [];
let server: Server;

/** public/ over HTTP, as the page's server gives it to the worker (the labelled demo set). */
function servePublic(): Promise<string> {
  server = createServer((req, res) => {
    try {
      const body = readFileSync(join(ROOT, 'public', decodeURIComponent(new URL(req.url!, 'http://x').pathname).replace(/^\/+/, '')));
      res.writeHead(200).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/`)));
}

beforeAll(async () => {
  await writeTextureFolder(dataDir, { perClass: 10, size: 40, seed: 2 });
  const gpu = await nodeGpu();
  session = new TrainingSession(loadShadersFromDisk(), (listener, event) => listener(event), () => gpu, await servePublic(), decodeImageBlobWithSharp);
  const status = await session.init();
  if (!status.ok) throw new Error(`no GPU: ${status.message}`);
  session.subscribe((e) => events.push(e));
  const files = TEXTURE_CLASSES.flatMap((c) => readdirSync(join(dataDir, c)).map((f) => ({ path: `tex/${c}/${f}`, file: new Blob([readFileSync(join(dataDir, c, f))]) })));
  const signal = new AbortController().signal;
  await session.loadListing({ name: 'tex', files, unreadable: [] }, 'files', {}, signal);
  const config: TrainingConfig = { ...defaultRunConfig(), depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 32, batchSize: 2, maskRatio: 0, seed: SEED };
  await session.setConfig(config, { allowReset: true }, signal);
}, 120_000);

afterAll(async () => {
  await session?.dispose();
  server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('worker evaluation API', () => {
  it('fine-tunes a random encoder with the CLI finetune run bit for bit', async () => {
    const result = await session.finetune({ encoder: 'random', data: 'dataset', settings: FT, seed: SEED }, new AbortController().signal);
    expect(result.classes).toEqual([...TEXTURE_CLASSES]);
    expect(result.trainCount + result.valCount).toBe(30);
    expect(result.valCount).toBe(6); // 20 % of 10 per class
    expect(result.curve.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(result.confusion.flat().reduce((a, b) => a + b, 0)).toBe(result.valCount);
    expect(events.some((e) => e.type === 'evaluation' && e.task === 'finetune' && e.phase === 'train')).toBe(true);

    const out = join(tmp, 'cli-ft');
    const r = runCli(['finetune', '--data', dataDir, '--depths', '1,1,1,1', '--dims', '8,16,24,32', '--input-size', '32', '--batch-size', '4', '--steps', '8', '--blr', '0.05', '--warmup', '1', '--seed', String(SEED), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss?: number });
    const cliLosses = lines.filter((l) => l.loss !== undefined).map((l) => Math.fround(l.loss!));
    expect(result.curve.map((p) => Math.fround(p.loss))).toEqual(cliLosses);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { val_top1: number; confusion_matrix: number[][] };
    expect(result.top1).toBe(report.val_top1);
    expect(result.confusion).toEqual(report.confusion_matrix);
  }, 300_000);

  it('cancels mid-run: rejects as cancelled and leaves pretraining untouched', async () => {
    const before = session.status();
    const controller = new AbortController();
    const seen = events.length;
    const waitForTraining = setInterval(() => {
      if (events.slice(seen).some((e) => e.type === 'evaluation' && e.phase === 'train')) controller.abort();
    }, 5);
    try {
      await expect(session.finetune({ encoder: 'current', data: 'dataset', settings: { ...FT, totalSteps: 400 } }, controller.signal)).rejects.toMatchObject({ name: 'WorkerError', kind: 'cancelled' });
    } finally {
      clearInterval(waitForTraining);
    }
    const after = session.status();
    expect(after.step).toBe(before.step);
    expect(after.runId).toBe(before.runId);
  }, 300_000);

  it('embeds every labelled image', async () => {
    const r = await session.embed({ encoder: 'current', data: 'dataset' }, new AbortController().signal);
    expect([r.count, r.dim, r.features.length]).toEqual([30, 32, 30 * 32]);
    expect([...r.labels]).toEqual(Array.from({ length: 30 }, (_, i) => Math.floor(i / 10)));
    expect(r.features.every(Number.isFinite)).toBe(true);
  }, 120_000);

  it('kNN probe: the figure kNN gives on the embedded features of the same split; the random baseline of a random encoder is itself', async () => {
    const signal = new AbortController().signal;
    const r = await session.probe({ encoder: 'random', data: 'dataset', method: 'knn', k: 5, seed: SEED }, signal);
    expect([r.trainCount, r.valCount]).toEqual([24, 6]);
    expect(r.baselineTop1).toBe(r.top1);
    const e = await session.embed({ encoder: 'random', data: 'dataset', seed: SEED }, signal);
    const split = stratifiedSplit(e.labels, 0.2, SEED);
    const rows = (idx: number[]) => ({ data: Float32Array.from(idx.flatMap((i) => [...e.features.subarray(i * e.dim, (i + 1) * e.dim)])), count: idx.length, dim: e.dim });
    const predicted = knnPredict(rows(split.train), split.train.map((i) => e.labels[i]!), rows(split.val), { k: 5, temperature: 0.07, numClasses: 3 });
    expect(r.top1).toBe(predicted.filter((p, i) => p === e.labels[split.val[i]!]).length / split.val.length);
    const lin = await session.probe({ encoder: 'current', data: 'dataset', method: 'linear', epochs: 10, baseline: false }, signal);
    expect(lin.baselineTop1).toBeNull();
    expect(lin.top1).toBeGreaterThanOrEqual(0);
  }, 300_000);

  it('feature collapse: one distance per block, the baseline beside', async () => {
    const r = await session.collapse({ encoder: 'random', data: 'dataset', maxImages: 2, seed: SEED }, new AbortController().signal);
    expect(r.images).toBe(2);
    expect(r.blocks.map((b) => `${b.stage}.${b.block}`)).toEqual(['0.0', '1.0', '2.0', '3.0']);
    expect(r.distance.every((d) => d > 0 && d <= 0.5)).toBe(true);
    expect(r.baselineDistance).toEqual(r.distance); // a random encoder against the same random initialisation
  }, 300_000);

  it('embeds the labelled demo set (Fashion-MNIST subset) whatever data set is loaded', async () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'public/demo/manifest.json'), 'utf8')) as { fashion: { count: number; labels: number[]; classes: string[] } };
    const r = await session.embed({ encoder: 'random', data: 'fashion-demo' }, new AbortController().signal);
    expect(r.count).toBe(manifest.fashion.count);
    expect(r.classes).toEqual(manifest.fashion.classes);
    expect([...r.labels]).toEqual(manifest.fashion.labels);
    expect(r.features.every(Number.isFinite)).toBe(true);
  }, 300_000);

  it('kNN tracking: the loop pauses after every 2nd step and reports the kNN probe of the button at that step (class-balanced subset, baseline once)', async () => {
    const signal = new AbortController().signal;
    const start = session.status().step;
    const seen = events.length;
    session.setKnnTracking({ every: 2, data: 'dataset', maxImages: 20 });
    try {
      await session.runSteps(4 + (start % 2), signal);
    } finally {
      session.setKnnTracking(null);
    }
    const end = session.status().step;
    const track = events.slice(seen).filter((e): e is Extract<WorkerEvent, { type: 'knn-track'; top1: number }> => e.type === 'knn-track' && 'top1' in e);
    const expected = Array.from({ length: end - start }, (_, i) => start + 1 + i).filter((k) => k % 2 === 0);
    expect(track.map((e) => e.step)).toEqual(expected);
    expect(track.every((e) => e.trainCount + e.valCount === 20 && e.classes === 3)).toBe(true);
    // the last tracked step is the run's last even step: probe it again with the button's call
    expect(end % 2).toBe(0);
    const button = await session.probe({ encoder: 'current', data: 'dataset', method: 'knn', maxImages: 20 }, signal);
    expect(button.pretrainStep).toBe(end);
    expect(track.at(-1)!.top1).toBe(button.top1);
    expect(track.every((e) => e.baselineTop1 === button.baselineTop1)).toBe(true);
  }, 300_000);

  it("activation grid: the worker's maps equal the engine's call the CLI makes (same checkpoint, block, image) and draw the CLI's PNG byte for byte", async () => {
    const signal = new AbortController().signal;
    const g = await session.activationGrid({ encoder: 'current', data: 'dataset', stage: 1, block: 0, image: 10 }, signal);
    // input 32: stage 1 has 4 × 4 sites and 4 · 16 = 64 channels
    expect([g.current.width, g.current.height, g.current.channels, g.current.count, g.current.maps.length]).toEqual([4, 4, 64, 64, 64 * 16]);
    expect([g.images, g.className, g.stage, g.block]).toEqual([30, TEXTURE_CLASSES[1], 1, 0]);
    expect(g.pretrainStep).toBe(session.status().step);
    expect(g.current.maps.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(events.some((e) => e.type === 'evaluation' && e.task === 'grid')).toBe(true);

    // the CLI's path: the saved checkpoint's encoder, the folder decoded and cropped as `analyze --images` does
    const saved = await session.saveCheckpoint('native', signal);
    const ckptFile = join(tmp, saved.fileName);
    writeFileSync(ckptFile, saved.bytes);
    const w = classifierWeightsFrom(openAnyCheckpoint(saved.bytes, saved.fileName), 1, SEED);
    const folder = await decodeFolder(await indexFolder(dataDir), { shorterSide: decodeSizeFor(32) });
    const engine = await testEngine();
    const image = makeEvalBatch(folder.images, [10], 32);
    for (const [name, got, weights] of [['current', g.current, w], ['random init', g.baseline!, randomClassifierWeights(w.config, 1, SEED)]] as const) {
      const want = await activationMaps(engine, weights, 32, image, 1, 0);
      const c = compareClose(got.maps, want.maps.flatMap((m) => [...m]), { atol: 1e-6, rtol: 0, label: `${name} grid` });
      console.log(`activation grid (${name}): max |worker − engine| ${c.maxDiff.toExponential(2)} over ${got.maps.length} values`);
      expect(c.ok, c.message).toBe(true);
    }

    // `fcmae analyze --grid`: picked images 0, 10, 20 of 30, so grid image 1 is folder image 10
    const png = join(tmp, 'grid.png');
    const r = runCli(['analyze', '--checkpoint', ckptFile, '--images', dataDir, '--input-size', '32', '--max-images', '3', '--baseline', 'false', '--out', join(tmp, 'grid.json'), '--grid', png, '--grid-block', '1.0', '--grid-image', '1']);
    expect(r.code, r.stderr).toBe(0);
    const plane = g.current.width * g.current.height;
    const mine = encodePng(activationGridImage({ width: g.current.width, height: g.current.height, maps: Array.from({ length: g.current.count }, (_, k) => g.current.maps.subarray(k * plane, (k + 1) * plane)) }));
    expect(Buffer.from(mine).equals(readFileSync(png))).toBe(true);

    await expect(session.activationGrid({ encoder: 'current', data: 'dataset', stage: 1, block: 1, image: 0 }, signal)).rejects.toMatchObject({ kind: 'config', message: expect.stringMatching(/no block 1\.1: .*\(depths 1,1,1,1\)/) });
    await expect(session.activationGrid({ encoder: 'current', data: 'dataset', stage: 0, block: 0, image: 30 }, signal)).rejects.toMatchObject({ kind: 'config', message: expect.stringMatching(/image 30 is not among the 30 labelled images/) });
  }, 300_000);

  it('refuses an unlabelled data set, saying what to do', async () => {
    const signal = new AbortController().signal;
    const files = readdirSync(join(dataDir, 'checker')).map((f) => ({ path: `plain/${f}`, file: new Blob([readFileSync(join(dataDir, 'checker', f))]) }));
    await session.loadListing({ name: 'plain', files, unreadable: [] }, 'files', {}, signal);
    await expect(session.finetune({ encoder: 'random', data: 'dataset', settings: FT }, signal)).rejects.toMatchObject({ kind: 'no-dataset', message: expect.stringMatching(/no class folders/) });
  }, 120_000);
});
