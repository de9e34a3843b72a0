// The worker modules' fault paths in Node (Dawn on SwiftShader, a tiny model, real training),
// each with its specific message and nothing the user had lost:
// - out of memory while building a plan (a device with a memory budget, tests/helpers/faulty-gpu.ts):
//   the settings change is refused as out-of-memory, the previous plan, settings and step stay
//   and training goes on exactly as if nothing had been tried;
// - a GPU process crash (device lost with reason 'unknown'): the worker asks for a new adapter by
//   itself, rebuilds the model from the kept snapshot, and the run continues from the step its
//   status names with the very losses of an uninterrupted run (a crash in the first steps, back
//   to step 1, is in tests/e2e/ui-gpu-crash.test.ts and the schedule's unit test);
// - a NaN/Inf loss: the run stops naming the step, the last good weights come back;
// - a checkpoint save cut short (cancelled, or the device lost mid-read): a specific error, the run
//   untouched, and saving again gives the file an uninterrupted save gives;
// - a worker that dies: a new session takes the page's kept snapshot (the 'snapshot' events) and
//   continues the run with the same run id and the same losses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageBlobWithSharp } from '../../../src/data/node-folder.ts';
import { nodeGpu } from '../../../src/gpu/node-device.ts';
import { loadShadersFromDisk } from '../../../src/gpu/shader-library-node.ts';
import { encodePng } from '../../../src/io/png.ts';
import { defaultRunConfig } from '../../../src/train/run-config.ts';
import { Random } from '../../../src/util/random.ts';
import { toWorkerError } from '../../../src/worker/errors.ts';
import { type KeptSnapshot, type TrainingConfig, type WorkerEvent } from '../../../src/worker/protocol.ts';
import { TrainingSession } from '../../../src/worker/session.ts';
import { faultyGpu, type FaultyGpu } from '../../helpers/faulty-gpu.ts';

const SETTINGS = { depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, seed: 5, blr: 0.05, warmupSteps: 2, totalSteps: 200, evalImages: 2 };
const CONFIG: TrainingConfig = { ...defaultRunConfig(), ...SETTINGS };
const signal = new AbortController().signal;

const files: { path: string; file: Blob }[] = [];
{
  const rng = new Random(9);
  for (let i = 0; i < 6; i++) {
    const [w, h] = [70 + 7 * i, 90 - 5 * i];
    const data = new Uint8ClampedArray(w * h * 4);
    const [a, b] = [rng.uniform() * 6, rng.uniform() * 6];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      data.set([128 + 100 * Math.sin((a * x) / w + (b * y) / h), (x * 3) % 256, (255 * x * y) / (w * h), 255], o);
    }
    files.push({ path: `imgs/img-${i}.png`, file: new Blob([encodePng({ width: w, height: h, data }) as Uint8Array<ArrayBuffer>]) });
  }
}

interface Opened {
  session: TrainingSession;
  gpu: FaultyGpu;
  losses: Map<number, number>;
  events: WorkerEvent[];
  kept(): KeptSnapshot | null;
}

let real: GPU;
const sessions: TrainingSession[] = [];
beforeAll(async () => {
  real = await nodeGpu();
});
afterAll(async () => {
  for (const s of sessions) await s.dispose().catch(() => {});
});

async function openSession(config: TrainingConfig = CONFIG): Promise<Opened> {
  const gpu = faultyGpu(real);
  const session = new TrainingSession(loadShadersFromDisk(), (listener, event) => listener(event), () => gpu.gpu, 'http://localhost/', decodeImageBlobWithSharp);
  sessions.push(session);
  const status = await session.init();
  if (!status.ok) throw new Error(`no GPU for the session: ${status.message}`);
  const losses = new Map<number, number>();
  const events: WorkerEvent[] = [];
  let kept: KeptSnapshot | null = null;
  session.subscribe((e: WorkerEvent) => {
    events.push(e);
    if (e.type === 'metrics') for (let i = 0; i < e.batch.count; i++) losses.set(e.batch.step[i]!, e.batch.loss[i]!);
    if (e.type === 'snapshot') kept = e.snapshot;
  });
  await session.loadListing({ name: 'imgs', files, unreadable: [] }, 'files', {}, signal);
  await session.setConfig(config, { allowReset: true }, signal);
  return { session, gpu, losses, events, kept: () => kept };
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sameLosses(a: Map<number, number>, b: Map<number, number>, steps: number[]): string {
  const bad = steps.filter((k) => Math.fround(a.get(k) ?? NaN) !== Math.fround(b.get(k) ?? NaN));
  return bad.length ? `differ at steps ${bad.join(', ')}: ${bad.map((k) => `${a.get(k)} vs ${b.get(k)}`).join('; ')}` : 'same';
}

/** The uninterrupted run every other run is compared with (losses of steps 1..14). */
let reference: Map<number, number>;
/** One session goes through the faults one after the other (building a session costs ~20 s here). */
let r: Opened;

describe('worker fault paths', () => {
  it('an uninterrupted run (the reference); the first snapshot comes within the first steps', async () => {
    const ref = await openSession();
    await ref.session.runSteps(14, signal);
    reference = ref.losses;
    expect(reference.size).toBe(14);
    const snapshotSteps = ref.events.flatMap((e) => (e.type === 'snapshot' ? [e.snapshot.state.step] : []));
    expect(snapshotSteps.slice(0, 2)).toEqual([0, 1]);
    expect(snapshotSteps).toContain(10);
    await ref.session.dispose();
  });

  it('out of memory while building a plan: refused with its own message, the previous plan and run go on', async () => {
    r = await openSession();
    await r.session.runSteps(3, signal);
    r.gpu.budgetBytes = r.gpu.allocatedBytes + 4096; // the rebuild for a bigger batch cannot fit
    let error: unknown = null;
    await r.session.setConfig({ ...CONFIG, batchSize: 4 }, { allowReset: true }, signal).catch((e: unknown) => (error = e));
    expect(r.gpu.failures).toBeGreaterThan(0);
    const w = toWorkerError(error);
    expect(w.kind).toBe('out-of-memory');
    expect(w.message).toMatch(/out-of-memory error during building the training plan/);
    expect(w.suggestion).toMatch(/Lower the batch size/);
    const status = r.session.status();
    expect(status).toMatchObject({ step: 3, error: null });
    expect(status.config.batchSize).toBe(2);
    r.gpu.budgetBytes = Infinity;
    await r.session.runSteps(3, signal);
    expect(sameLosses(r.losses, reference, [1, 2, 3, 4, 5, 6])).toBe('same');
  });

  it('a GPU process crash: a new adapter, the model rebuilt from the kept snapshot by itself, the run continues from the named step', async () => {
    await r.session.runSteps(6, signal); // step 12
    const adapters = r.gpu.adapters;
    await r.gpu.crash();
    // without Start: the status names the step, a new adapter is asked for and the plan rebuilt
    await until('the device re-created', () => r.gpu.adapters > adapters && r.session.status().plan !== null);
    const status = r.session.status();
    expect(status.error).toMatchObject({ kind: 'device-lost', canContinue: true });
    expect(status.error!.message).toMatch(/unknown/);
    const from = status.error!.restoredStep;
    expect(status.step).toBe(from);
    expect(from).toBe(10); // the step-10 snapshot was vouched for by step 11's loss
    const before = new Map(r.losses);
    await r.session.runSteps(4, signal);
    expect(r.session.status().step).toBe(from + 4);
    // exactly the uninterrupted run's losses for the steps done again
    const again = new Map([...r.losses].filter(([k]) => k > from));
    expect(sameLosses(again, reference, [11, 12, 13, 14])).toBe('same');
    expect(sameLosses(before, reference, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])).toBe('same');
  });

  it('a NaN loss: stops naming the step, the last good weights come back and continue', async () => {
    await r.session.injectFault('non-finite-weights');
    const error = await r.session.runSteps(2, signal).then(() => null, (e: unknown) => e);
    expect(toWorkerError(error).kind).toBe('non-finite-loss');
    const status = r.session.status();
    expect(status.error).toMatchObject({ kind: 'non-finite-loss', step: 15, canContinue: true });
    expect(status.error!.message).toMatch(/at step 15/);
    const from = status.error!.restoredStep;
    expect(status.step).toBe(from);
    expect(from).toBeGreaterThanOrEqual(11); // the first step after the crash's restore was kept
    r.losses.clear();
    await r.session.runSteps(2, signal);
    expect(sameLosses(r.losses, reference, [from + 1, from + 2])).toBe('same');
  });

  it('a checkpoint save cut short: a specific error, the run untouched, saving again works', async () => {
    const step = r.session.status().step;
    const whole = await r.session.saveCheckpoint('native', signal);
    // cancelled while its read-back is in flight: the run untouched, saving again gives the same file
    const abort = new AbortController();
    const cancelled = r.session.saveCheckpoint('native', abort.signal);
    abort.abort();
    await expect(cancelled).rejects.toMatchObject({ kind: 'cancelled' });
    expect(r.session.status()).toMatchObject({ step, error: null });
    const same = await r.session.saveCheckpoint('native', signal);
    expect(Buffer.from(same.bytes).equals(Buffer.from(whole.bytes))).toBe(true);
    // the device lost while reading: checkpoint-interrupted, naming the step
    const interrupted = r.session.saveCheckpoint('native', signal).then(() => null, (e: unknown) => e);
    await r.gpu.crash();
    const e = toWorkerError(await interrupted);
    expect(e.kind).toBe('checkpoint-interrupted');
    expect(e.message).toMatch(new RegExp(`Saving the checkpoint of step ${step} was interrupted \\(the GPU device was lost\\)`));
    expect(e.suggestion).toMatch(/The run is untouched: press Save again/);
    // while the device is being re-created, Save writes the kept weights (no GPU needed)
    await until('the loss reported', () => r.session.status().error?.kind === 'device-lost');
    const fromKept = await r.session.saveCheckpoint('native', signal);
    expect(r.session.status().plan).toBeNull(); // it did not wait for the new device
    expect(fromKept.step).toBe(r.session.status().error!.restoredStep);
    // once the device is back, saving works and writes the step the run continues from
    await until('the device re-created', () => r.session.status().plan !== null);
    const again = await r.session.saveCheckpoint('native', signal);
    expect(again.step).toBe(r.session.status().step);
  });

  it('a worker that dies: a new one continues from the kept snapshot with the same run id and losses', async () => {
    await r.session.reset(undefined, signal);
    await r.session.runSteps(12, signal);
    const kept = r.kept();
    expect(kept?.state.step).toBe(10);
    const runId = r.session.status().runId;
    await r.session.dispose(); // the old worker is gone
    const b = await openSession({ ...CONFIG, seed: 77 }); // a new worker, its own start-up settings
    const status = await b.session.restoreRun(kept!, signal);
    expect(status).toMatchObject({ step: 10, runId, error: null });
    expect(status.config.seed).toBe(CONFIG.seed);
    await b.session.runSteps(4, signal);
    expect(sameLosses(new Map([...b.losses].filter(([k]) => k > 10)), reference, [11, 12, 13, 14])).toBe('same');
  });
});
