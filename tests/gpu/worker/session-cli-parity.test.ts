// One training run, two drivers: the browser worker's TrainingSession (run here in Node on Dawn,
// with the Node image decoder in place of createImageBitmap) and the CLI's `train` give the same
// losses bit for bit for the same seed, data and settings, through the worker's loop and its
// manual step; and a checkpoint either one wrote continues in the other exactly.
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImageBlobWithSharp } from '../../../src/data/node-folder.ts';
import { nodeGpu } from '../../../src/gpu/node-device.ts';
import { loadShadersFromDisk } from '../../../src/gpu/shader-library-node.ts';
import { encodePng } from '../../../src/io/png.ts';
import { TrainingSession } from '../../../src/worker/session.ts';
import { defaultRunConfig } from '../../../src/train/run-config.ts';
import type { TrainingConfig, WorkerEvent } from '../../../src/worker/protocol.ts';
import { Random } from '../../../src/util/random.ts';
import { runCli } from '../../helpers/cli.ts';

const STEPS = 6;
const SETTINGS = { depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, seed: 11, blr: 0.1, warmupSteps: 2, totalSteps: STEPS, evalImages: 2 };
const CLI_FLAGS = ['--depths', '1,1,1,1', '--dims', '8,16,24,32', '--decoder-dim', '16', '--decoder-depth', '1', '--input-size', '64', '--batch-size', '2', '--mask-ratio', '0.5', '--seed', '11', '--blr', '0.1', '--warmup', '2', '--steps', String(STEPS), '--eval-images', '2'];

const tmp = mkdtempSync(join(tmpdir(), 'fcmae-parity-'));
const dataDir = join(tmp, 'imgs');
mkdirSync(dataDir);
const files: { name: string; bytes: Uint8Array }[] = [];
{
  // seven images of different shapes (so random-resized crops differ), smooth enough to learn from
  const rng = new Random(4);
  const shapes: [number, number][] = [[90, 75], [75, 90], [80, 80], [100, 73], [73, 96], [88, 88], [120, 80]];
  shapes.forEach(([w, h], i) => {
    const data = new Uint8ClampedArray(w * h * 4);
    const [a, b, c] = [rng.uniform() * 6, rng.uniform() * 6, rng.uniform() * 255];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      data[o] = 128 + 100 * Math.sin((a * x) / w + (b * y) / h);
      data[o + 1] = (c + x * 2) % 256;
      data[o + 2] = 255 * ((x * y) / (w * h)) + 20 * rng.uniform();
      data[o + 3] = 255;
    }
    const bytes = encodePng({ width: w, height: h, data });
    const name = `img-${i}.png`;
    writeFileSync(join(dataDir, name), bytes);
    files.push({ name, bytes });
  });
}

function cliLosses(out: string): number[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
}

/** A worker session in Node, its metric events collected per step. */
async function openSession(): Promise<{ session: TrainingSession; losses: Map<number, number> }> {
  const gpu = await nodeGpu();
  const session = new TrainingSession(loadShadersFromDisk(), (listener, event) => listener(event), () => gpu, 'http://localhost/', decodeImageBlobWithSharp);
  const status = await session.init();
  if (!status.ok) throw new Error(`no GPU for the session: ${status.message}`);
  const losses = new Map<number, number>();
  session.subscribe((e: WorkerEvent) => {
    if (e.type === 'metrics') for (let i = 0; i < e.batch.count; i++) losses.set(e.batch.step[i]!, e.batch.loss[i]!);
  });
  const signal = new AbortController().signal;
  await session.loadListing({ name: 'imgs', files: files.map((f) => ({ path: `imgs/${f.name}`, file: new Blob([f.bytes as Uint8Array<ArrayBuffer>]) })), unreadable: [] }, 'files', {}, signal);
  const config: TrainingConfig = { ...defaultRunConfig(), ...SETTINGS };
  await session.setConfig(config, { allowReset: true }, signal);
  return { session, losses };
}

const sessions: TrainingSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.dispose();
});

/** The first step where two loss lists (from step `first` on) differ as float32 bit patterns, with both values. */
function firstDifference(a: number[], b: number[], first = 1): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (Math.fround(a[i] ?? NaN) !== Math.fround(b[i] ?? NaN)) return `step ${i + first}: ${a[i]} vs ${b[i]}`;
  return 'none';
}

describe('the browser worker and the CLI run one training run', () => {
  const out = join(tmp, 'cli-run');
  let cli: number[] = [];

  it('the CLI trains and checkpoints at step 3', () => {
    const r = runCli(['train', '--data', dataDir, ...CLI_FLAGS, '--checkpoint-every', '3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    cli = cliLosses(out);
    expect(cli).toHaveLength(STEPS);
    expect(new Set(cli).size).toBe(STEPS); // a real trajectory, not a constant
  }, 300_000);

  it('the worker session gives the same losses bit for bit (loop, then manual steps)', async () => {
    const { session, losses } = await openSession();
    sessions.push(session);
    const signal = new AbortController().signal;
    await session.runSteps(4, signal);
    for (let k = 5; k <= STEPS; k++) {
      const record = await session.step(signal);
      expect(record.step).toBe(k);
      losses.set(k, record.loss);
    }
    const worker = Array.from({ length: STEPS }, (_, i) => losses.get(i + 1)!);
    expect(firstDifference(worker, cli), `worker ${worker.join(', ')}\ncli    ${cli.join(', ')}`).toBe('none');
  }, 300_000);

  it("the CLI's step-3 checkpoint continues in the worker exactly as in the CLI", async () => {
    const { session, losses } = await openSession();
    sessions.push(session);
    const signal = new AbortController().signal;
    const bytes = new Uint8Array(readFileSync(join(out, 'checkpoint-000003.safetensors')));
    const loaded = await session.loadCheckpoint(bytes, 'checkpoint-000003.safetensors', { allowReset: true }, signal);
    expect(loaded.applied).toBe(true);
    expect(loaded.optimizerRestored).toBe(true);
    expect(session.status().step).toBe(3);
    await session.runSteps(STEPS - 3, signal);
    const resumed = Array.from({ length: STEPS - 3 }, (_, i) => losses.get(i + 4)!);
    expect(firstDifference(resumed, cli.slice(3), 4), `worker ${resumed.join(', ')}\ncli    ${cli.slice(3).join(', ')}`).toBe('none');
  }, 300_000);

  it("the worker's step-2 checkpoint continues in the CLI exactly as in the worker", async () => {
    const { session } = await openSession();
    sessions.push(session);
    const signal = new AbortController().signal;
    await session.runSteps(2, signal);
    const saved = await session.saveCheckpoint('native', signal);
    expect(saved.step).toBe(2);
    const file = join(tmp, saved.fileName);
    writeFileSync(file, saved.bytes);
    const resumedOut = join(tmp, 'resumed-from-worker');
    const r = runCli(['train', '--data', dataDir, '--resume', file, '--eval-images', '2', '--out', resumedOut]);
    expect(r.code, r.stderr).toBe(0);
    const resumed = cliLosses(resumedOut);
    expect(resumed, r.stdout).toHaveLength(STEPS - 2);
    expect(firstDifference(resumed, cli.slice(2), 3), `cli resumed ${resumed.join(', ')}
cli         ${cli.slice(2).join(', ')}`).toBe('none');
  }, 300_000);
});
