// The training loop in the engine worker, driven through its comlink API from a test page in
// Chromium (WebGPU on SwiftShader), on a tiny model (depths 1,1,1,1, dims 8..32, decoder 16×1,
// 64 px, batch 2) and the demo set: steps run while the page's timers keep firing; pause,
// resume, single steps and reset behave and reproduce; live knobs keep the run (weights and
// AdamW moments carried over exactly); reconstructions are real pictures; checkpoints round-
// trip and a corrupt one changes nothing; a NaN loss, a decode storm and a lost device each stop
// the loop with a typed status, keep the last good weights and let the run continue.
// The tests share one page (one worker: pipelines compile once) and run in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openWorkerHarness } from '../helpers/browser.ts';
import { expectAllClose } from '../helpers/allclose.ts';
import { parseSafetensors } from '../../src/io/safetensors.ts';
import { planInfo } from '../../src/worker/training-config.ts';
import { defaultRunConfig } from '../../src/train/run-config.ts';
import type { TrainingConfig, WorkerStatus } from '../../src/worker/protocol.ts';
import type { Harness } from './pages/worker-harness.ts';
import { brokenFolderFiles } from './fixtures-gen.ts';

declare global {
  interface Window {
    /** The test page's API (tests/e2e/pages/worker-harness.ts). */
    harness: Harness;
  }
}

const TINY: TrainingConfig = {
  ...defaultRunConfig(),
  depths: [1, 1, 1, 1],
  dims: [8, 16, 24, 32],
  decoderDim: 16,
  decoderDepth: 1,
  inputSize: 64,
  batchSize: 2,
  maskRatio: 0.5,
  // A visible learning rate on a tiny run: peak = 0.02·2/256.
  blr: 0.02,
  warmupSteps: 2,
  totalSteps: 200,
  evalImages: 2,
};

let harness: Awaited<ReturnType<typeof openWorkerHarness>> | null = null;
let page: Page;
const errors: string[] = [];

const status = (): Promise<WorkerStatus> => page.evaluate(() => window.harness.client.status());

beforeAll(async () => {
  harness = await openWorkerHarness(errors);
  page = harness.page;
  const demo = await page.evaluate(() => window.harness.client.loadDemo());
  expect(demo).toMatchObject({ source: 'demo', images: 300, skipped: [] });
}, 300_000);

afterAll(async () => {
  await harness?.close();
});

describe('training in the worker', () => {
  it('builds the plan for a config and reports its size', async () => {
    const r = await page.evaluate((c) => window.harness.client.setConfig(c), TINY);
    expect(r).toMatchObject({ applied: true, rebuilt: true, needsReset: false });
    const want = planInfo(TINY);
    expect(r.plan).toMatchObject({ paramCount: want.paramCount, forwardMacsPerImage: want.forwardMacsPerImage, patches: 4, visiblePatches: 2 });
    // The estimate mirrors FcmaePlan's buffers (src/train/estimates.ts) but leaves out the
    // kernels' partial-sum scratch and counts pred-all (built on the first reconstruction): 10%.
    expect(Math.abs(r.plan.bytesAllocated! - r.plan.bytesEstimate) / r.plan.bytesEstimate).toBeLessThan(0.1);
    expect(r.status).toMatchObject({ state: 'ready', step: 0 });
  }, 300_000);

  it('trains a few steps in the worker while the main thread stays responsive', async () => {
    const { result, probe, metrics, phases, timestamps } = await page.evaluate(async () => {
      const h = window.harness;
      const gpu = await h.ready;
      const { result, probe } = await h.probeMainThread(() => h.client.runSteps(3));
      const batches = h.events.flatMap((e) => (e.type === 'metrics' ? [e.batch] : []));
      const metrics = batches.flatMap((b) => Array.from(b.step, (s, i) => ({ runId: b.runId, step: s, loss: b.loss[i]!, lr: b.lr[i]!, ips: b.imagesPerSec[i]! })));
      const p = batches.find((b) => b.phases)?.phases ?? null;
      const phases = p ? { names: p.names, steps: Array.from(p.step), ms: Array.from(p.ms) } : null;
      return { result, probe, metrics, phases, timestamps: gpu.ok && gpu.adapter.features.includes('timestamp-query') };
    });
    expect(result.step).toBe(3);
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3]);
    for (const m of metrics) {
      expect(Number.isFinite(m.loss) && m.loss > 0).toBe(true);
      expect(m.ips).toBeGreaterThan(0);
    }
    // Step 1 is profiled per phase when the adapter has timestamp queries.
    if (timestamps) {
      expect(phases!.steps).toEqual([1]);
      expect(phases!.names[0]).toBe('stem');
      expect(phases!.names).toContain('loss backward');
      expect(phases!.names[phases!.names.length - 1]).toBe('optimizer');
      expect(phases!.ms.length).toBe(phases!.names.length);
      expect(phases!.ms.every((ms) => ms >= 0 && ms < 60_000)).toBe(true);
      console.log(`GPU ms per phase at step 1: ${phases!.names.map((n, i) => `${n} ${phases!.ms[i]!.toFixed(1)}`).join(', ')}`);
    } else {
      expect(phases).toBeNull();
    }
    // Warmup: step 1 runs at lr 0, step 2 at half the peak (schedule of src/train/lr-schedule.ts).
    expect(metrics[0]!.lr).toBe(0);
    expect(metrics[1]!.lr).toBeCloseTo((0.02 * 2) / 256 / 2, 9);
    console.log(`main thread during 3 training steps (${probe.elapsedMs.toFixed(0)} ms): ${probe.ticks} ticks, p95 late ${probe.p95LateMs.toFixed(1)} ms, max late ${probe.maxLateMs.toFixed(1)} ms, long tasks ${JSON.stringify(probe.longTasks)}`);
    // Every GPU submission, readback and batch assembly ran in the worker: the page ran no long
    // task (> 50 ms, Chromium's Long Tasks API) and its 10 ms timers fired on time. p95 under
    // 50 ms: the odd late tick comes from the OS (two cores shared with SwiftShader and other
    // processes), which is why the maximum is only logged. One training step on this thread
    // would block it for about a second (see the control below). A free thread fits one 10 ms
    // tick per 10 ms (minus timer overhead): at least half of those must have run.
    expect(probe.ticks).toBeGreaterThanOrEqual(Math.floor((0.5 * probe.elapsedMs) / 10));
    expect(probe.ticks).toBeGreaterThan(3);
    expect(probe.longTasks).toEqual([]);
    expect(probe.p95LateMs).toBeLessThan(50);
    // Control: the probe does see a blocked main thread (150 ms of busy work on it).
    const control = await page.evaluate(() =>
      window.harness.probeMainThread(async () => {
        await new Promise((r) => setTimeout(r, 30));
        const end = performance.now() + 150;
        while (performance.now() < end);
        await new Promise((r) => setTimeout(r, 30));
      }),
    );
    expect(control.probe.longTasks.some((d) => d >= 150)).toBe(true);
    expect(control.probe.maxLateMs).toBeGreaterThan(100);
    // ... and the tick count check above fails for it
    expect(control.probe.ticks).toBeLessThan(Math.floor((0.5 * control.probe.elapsedMs) / 10));
    expect((await status()).state).toBe('paused');
  }, 300_000);

  it('pause, resume, step and reset behave, and a reset run reproduces the first one exactly', async () => {
    const r = await page.evaluate(async () => {
      const h = window.harness;
      const c = h.client;
      const firstRun = h.events.find((e) => e.type === 'metrics')!;
      const firstLoss = firstRun.type === 'metrics' ? firstRun.batch.loss[0]! : NaN;
      const runId = (await c.status()).runId;
      await c.start();
      const running = (await c.status()).state;
      while ((await c.status()).step < 5) await new Promise((r) => setTimeout(r, 50));
      const paused = await c.pause();
      const eventsAtPause = h.events.length;
      await new Promise((r) => setTimeout(r, 1500));
      const stillPaused = await c.status();
      const lateMetrics = h.events.slice(eventsAtPause).filter((e) => e.type === 'metrics').length;
      const one = await c.step();
      await c.resume();
      const resumedAt = (await c.status()).step;
      while ((await c.status()).step <= resumedAt) await new Promise((r) => setTimeout(r, 50));
      const afterResume = await c.pause();
      const busy = await c.start().then(() => c.step()).then(() => 'no error', (e) => e.kind);
      await c.pause();
      // Cancelling a long runSteps pauses the loop after the steps in flight.
      const abort = new AbortController();
      const stepAtCancel = (await c.status()).step;
      const long = c.runSteps(50, { signal: abort.signal }).then(() => 'finished', (e) => e.kind);
      while ((await c.status()).step === stepAtCancel) await new Promise((r) => setTimeout(r, 50));
      const stepAtAbort = (await c.status()).step;
      abort.abort();
      const cancelled = await long;
      const afterCancel = await c.status();
      const reset = await c.reset();
      const again = await c.step();
      return { runId, running, paused, stillPaused, lateMetrics, one, afterResume, busy, cancelled, stepAtCancel, stepAtAbort, afterCancel, reset, again, firstLoss };
    });
    expect(r.running).toBe('running');
    expect(r.paused.state).toBe('paused');
    expect(r.paused.step).toBeGreaterThanOrEqual(5);
    // Nothing moves while paused: no step, no metrics (in-flight steps finished before pause resolved).
    expect(r.stillPaused.step).toBe(r.paused.step);
    expect(r.lateMetrics).toBe(0);
    expect(r.one.step).toBe(r.paused.step + 1);
    expect(Number.isFinite(r.one.loss)).toBe(true);
    expect(r.afterResume.step).toBeGreaterThan(r.one.step);
    expect(r.busy).toBe('busy');
    expect(r.cancelled).toBe('cancelled');
    expect(r.afterCancel.state).toBe('paused');
    // The loop stops soon after the cancel, far from the 50 steps asked for: at most the two
    // steps in flight, plus one that may finish while the abort message travels.
    expect(r.afterCancel.step).toBeGreaterThan(r.stepAtCancel);
    expect(r.afterCancel.step).toBeLessThanOrEqual(r.stepAtAbort + 3);
    expect(r.afterCancel.step).toBeLessThan(r.stepAtCancel + 50);
    expect(r.reset).toMatchObject({ state: 'ready', step: 0, runId: r.runId + 1, lastLoss: null, error: null });
    // Same seed, same weights, same data and mask streams: bit-identical first step.
    expect(r.again).toMatchObject({ step: 1, runId: r.runId + 1 });
    expect(r.again.loss).toBe(r.firstLoss);
  }, 300_000);

  it('live knobs keep the run: the mask ratio rebuilds the plan with weights and AdamW moments carried over', async () => {
    const r = await page.evaluate(async (tiny) => {
      const h = window.harness;
      const c = h.client;
      await c.runSteps(2);
      const before = await c.saveCheckpoint('native');
      const rebuild = await c.setConfig({ ...tiny, maskRatio: 0.75 });
      const after = await c.saveCheckpoint('native');
      const next = await c.step();
      const live = await c.setConfig({ ...tiny, maskRatio: 0.75, blr: 0.01 });
      const needsReset = await c.setConfig({ ...tiny, maskRatio: 0.75, blr: 0.01, inputSize: 96 });
      const s = await c.status();
      return { before: h.toBase64(before.bytes), beforeStep: before.step, after: h.toBase64(after.bytes), afterStep: after.step, rebuild, next, live, needsReset, s };
    }, TINY);
    expect(r.rebuild).toMatchObject({ applied: true, level: 'rebuild', rebuilt: true, changed: ['maskRatio'] });
    expect(r.rebuild.plan.visiblePatches).toBe(1);
    expect(r.rebuild.status.step).toBe(r.beforeStep);
    expect(r.afterStep).toBe(r.beforeStep);
    const a = parseSafetensors(Buffer.from(r.before, 'base64'));
    const b = parseSafetensors(Buffer.from(r.after, 'base64'));
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    expect([...a.tensors.keys()].filter((k) => k.startsWith('adamw.m.')).length).toBeGreaterThan(40);
    for (const [name, t] of a.tensors) {
      // GPU buffer copies: exact.
      expectAllClose(b.tensors.get(name)!.data as Float32Array, t.data as Float32Array, { atol: 0, rtol: 0, label: name });
    }
    expect(JSON.parse(b.metadata.training!).maskRatio).toBe(0.75);
    expect(r.next.step).toBe(r.beforeStep + 1);
    expect(Number.isFinite(r.next.loss)).toBe(true);
    expect(r.live).toMatchObject({ applied: true, level: 'live', rebuilt: false });
    expect(r.needsReset).toMatchObject({ applied: false, needsReset: true, level: 'reset', resetReasons: ['inputSize 64 → 96'] });
    expect(r.s.config.inputSize).toBe(64);
    expect(r.s.step).toBe(r.next.step);
  }, 300_000);

  it('reconstructs the evaluation batch at any mask ratio and seed as non-blank panels', async () => {
    const r = await page.evaluate(async () => {
      const c = window.harness.client;
      const rec = await c.reconstruct({ maskRatio: 0.75, seed: 3 });
      const S = rec.size;
      const plane = S * S * 4;
      const stats = (a: Uint8ClampedArray, n: number) => {
        let sum = 0;
        let sq = 0;
        for (let i = n * plane; i < (n + 1) * plane; i += 4) {
          sum += a[i]!;
          sq += a[i]! * a[i]!;
        }
        const m = sum / (S * S);
        return Math.sqrt(sq / (S * S) - m * m);
      };
      // Per image: compare panels patch by patch against the mask.
      const checks = [];
      for (let n = 0; n < rec.indices.length; n++) {
        let visibleSame = true;
        let maskedMean = true;
        let pastedOk = true;
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            const p = Math.floor(y / 32) * rec.gridW + Math.floor(x / 32);
            const masked = rec.mask[n * rec.patches + p] === 1;
            const i = n * plane + (y * S + x) * 4;
            for (let ch = 0; ch < 3; ch++) {
              if (!masked && (rec.masked[i + ch] !== rec.original[i + ch] || rec.pasted[i + ch] !== rec.original[i + ch])) visibleSame = false;
              if (masked && rec.pasted[i + ch] !== rec.reconstruction[i + ch]) pastedOk = false;
            }
            if (masked && (rec.masked[i] !== 124 || rec.masked[i + 1] !== 116 || rec.masked[i + 2] !== 104)) maskedMean = false;
          }
        }
        checks.push({ visibleSame, maskedMean, pastedOk, originalStd: stats(rec.original, n), reconstructionStd: stats(rec.reconstruction, n), maskedCount: Array.from(rec.mask.subarray(n * rec.patches, (n + 1) * rec.patches)).reduce((a, b) => a + b, 0) });
      }
      const masks = [];
      for (const seed of [3, 4, 5, 6, 7]) masks.push(Array.from((await c.reconstruct({ maskRatio: 0.5, seed })).mask).join(''));
      const one = await c.reconstruct({ imageIndex: 10, maskRatio: 0 });
      const bad = await c.reconstruct({ maskRatio: 0.9 }).then(() => null, (e) => e.kind);
      return { meta: { size: rec.size, patches: rec.patches, visible: rec.visiblePatches, count: rec.indices.length, den: rec.denormalisation, note: rec.denormalisationNote, loss: rec.loss, step: rec.step }, checks, masks, one: { count: one.indices.length, path: one.paths[0], mask: Array.from(one.mask) }, bad };
    });
    expect(r.meta).toMatchObject({ size: 64, patches: 4, visible: 1, count: 2, den: 'true-patch-statistics' });
    expect(r.meta.note).toMatch(/true patch's mean and std/);
    expect(Number.isFinite(r.meta.loss)).toBe(true);
    for (const c of r.checks) {
      expect(c).toMatchObject({ visibleSame: true, maskedMean: true, pastedOk: true, maskedCount: 3 });
      // Real photos and a real prediction: neither is a flat panel (std of 0–255 values).
      expect(c.originalStd).toBeGreaterThan(5);
      expect(c.reconstructionStd).toBeGreaterThan(0.5);
    }
    expect(new Set(r.masks).size).toBeGreaterThan(1);
    expect(r.one).toEqual({ count: 1, path: 'natural/astronaut-010.jpg', mask: [0, 0, 0, 0] });
    expect(r.bad).toBe('config');
  }, 300_000);

  it('saves checkpoints, refuses corrupt ones without touching the model, and loads good ones back', async () => {
    const r = await page.evaluate(async () => {
      const h = window.harness;
      const c = h.client;
      const saved = await c.saveCheckpoint('native');
      const copy = () => saved.bytes.slice();
      const reference = (await c.reconstruct({ seed: 7 })).loss;
      const statusBefore = await c.status();
      const refusals = [];
      for (const [bytes, name] of [
        [copy().subarray(0, Math.floor(saved.bytes.length / 2)).slice(), 'cut.safetensors'],
        [new TextEncoder().encode('these are my notes'), 'notes.txt'],
        [Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256), 'noise.pt'],
      ] as [Uint8Array, string][]) {
        refusals.push(await c.loadCheckpoint(bytes, name).then(() => null, (e) => ({ kind: e.kind, message: e.message, suggestion: e.suggestion })));
      }
      const statusAfter = await c.status();
      const untouched = (await c.reconstruct({ seed: 7 })).loss;
      const stepped = await c.step();
      const loaded = await c.loadCheckpoint(copy(), saved.fileName);
      const restored = (await c.reconstruct({ seed: 7 })).loss;
      const dense = await c.saveCheckpoint('official-dense');
      const denseLoad = await c.loadCheckpoint(dense.bytes, dense.fileName);
      const denseLoss = (await c.reconstruct({ seed: 7 })).loss;
      const sparse = await c.saveCheckpoint('official-sparse');
      const sparseLoad = await c.loadCheckpoint(sparse.bytes, sparse.fileName);
      const sparseLoss = (await c.reconstruct({ seed: 7 })).loss;
      const timm = await c.saveCheckpoint('timm');
      return { saved: { step: saved.step, fileName: saved.fileName }, reference, statusBefore, refusals, statusAfter, untouched, stepped, loaded, restored, dense: { fileName: dense.fileName }, denseLoad, denseLoss, sparseScheme: sparseLoad.report.scheme, sparseLoss, timmSkipped: timm.skipped.length, timmName: timm.fileName };
    });
    expect(r.saved.fileName).toBe(`fcmae-convnextv2-custom-64px-step${r.saved.step}.safetensors`);
    expect(r.refusals.map((x) => x?.kind)).toEqual(['bad-checkpoint', 'bad-checkpoint', 'bad-checkpoint']);
    expect(r.refusals[0]!.message).toMatch(/cut\.safetensors/);
    expect(r.refusals[1]!.message).toMatch(/notes\.txt/);
    for (const x of r.refusals) expect(x!.suggestion).toMatch(/model is unchanged/);
    expect(r.statusAfter).toEqual(r.statusBefore);
    expect(r.untouched).toBe(r.reference);
    expect(r.stepped.step).toBe(r.saved.step + 1);
    expect(r.loaded).toMatchObject({ applied: true, optimizerRestored: true, status: { step: r.saved.step, state: 'ready' } });
    expect(r.loaded.report.scheme).toBe('canonical');
    expect(r.restored).toBe(r.reference);
    expect(r.dense.fileName).toMatch(/\.official-dense\.pth$/);
    expect(r.denseLoad).toMatchObject({ applied: true, optimizerRestored: false, status: { step: 0 } });
    expect(r.denseLoad.report.scheme).toBe('official-dense');
    expect(r.denseLoss).toBe(r.reference);
    expect(r.sparseScheme).toBe('official-sparse');
    expect(r.sparseLoss).toBe(r.reference);
    expect(r.timmSkipped).toBeGreaterThan(0); // the decoder has no place in timm
    expect(r.timmName).toMatch(/^convnextv2_custom\./);
  }, 300_000);

  it('refuses a configuration that cannot fit the adapter before allocating anything', async () => {
    const before = await status();
    const r = await page.evaluate(async (tiny) => {
      const c = window.harness.client;
      return c.setConfig({ ...tiny, inputSize: 1024, batchSize: 4096 }, { allowReset: true }).then(
        () => null,
        (e) => ({ kind: e.kind, message: e.message, suggestion: e.suggestion }),
      );
    }, TINY);
    expect(r).toMatchObject({ kind: 'too-large' });
    // The (N, 3, H, W) input alone is 4096·3·1024² floats = 48 GiB; SwiftShader allows 1 GiB per buffer.
    expect(r!.message).toMatch(/buffer image needs 48\.0 GiB, above this adapter's 1\.0 GiB per buffer/);
    expect(r!.suggestion).toMatch(/batch size/);
    const s = await status();
    expect(s.config).toEqual(before.config);
    expect(s.step).toBe(before.step);
    const next = await page.evaluate(() => window.harness.client.step());
    expect(next.step).toBe(s.step + 1);
  }, 300_000);

  it('a NaN loss stops the run with a typed status, restores the last good weights, and the run continues', async () => {
    const r = await page.evaluate(async () => {
      const c = window.harness.client;
      const ran = await c.runSteps(2); // ends with a snapshot of step `ran.step`
      const confirm = await c.step(); // a finite loss after it: that snapshot is good
      await c.injectFault('non-finite-weights');
      const failed = await c.step().then(() => null, (e) => ({ kind: e.kind, message: e.message }));
      const s = await c.status();
      const next = await c.step();
      const after = await c.status();
      return { ran: ran.step, confirm: confirm.step, failed, s, next, after };
    });
    expect(r.failed!.kind).toBe('non-finite-loss');
    expect(r.failed!.message).toMatch(/loss became NaN at step/);
    expect(r.s.state).toBe('error');
    expect(r.s.error).toMatchObject({ kind: 'non-finite-loss', step: r.confirm + 1, restoredStep: r.ran, canContinue: true });
    expect(r.s.error!.suggestion).toMatch(/learning rate/);
    expect(r.s.step).toBe(r.ran);
    expect(r.next.step).toBe(r.ran + 1);
    expect(Number.isFinite(r.next.loss)).toBe(true);
    expect(r.after).toMatchObject({ state: 'paused', error: null });
  }, 300_000);

  it('a decode storm stops the run with a typed status, and the run continues once acknowledged', async () => {
    const broken = await brokenFolderFiles();
    const r = await page.evaluate(async (files) => {
      const h = window.harness;
      const c = h.client;
      const listing = { name: 'broken-photos', files: files.map((f) => ({ path: f.path, file: new Blob([h.fromBase64(f.data)]) })), unreadable: [] };
      const loaded = await c.loadFiles(listing, { verify: true });
      const stepBefore = (await c.status()).step;
      const failed = await c.runSteps(1).then(() => null, (e) => ({ kind: e.kind, message: e.message, suggestion: e.suggestion }));
      const s = await c.status();
      const continued = await c.runSteps(1);
      await c.loadDemo();
      return { loaded: { images: loaded.images, failed: loaded.skippedByCode['decode-failed'] }, stepBefore, failed, s, continued };
    }, broken.files.map((f) => ({ path: f.path, data: Buffer.from(f.bytes).toString('base64') })));
    expect(r.loaded).toEqual({ images: 1, failed: 14 });
    expect(r.failed).toMatchObject({ kind: 'decode-storm' });
    expect(r.failed!.message).toMatch(/14 of the last 15 images failed to decode/);
    expect(r.failed!.suggestion).toMatch(/skipped-files list/);
    expect(r.s.error).toMatchObject({ kind: 'decode-storm', restoredStep: r.stepBefore, canContinue: true });
    expect(r.s.step).toBe(r.stepBefore);
    // Continuing trains on what decodes (one image here).
    expect(r.continued.step).toBe(r.stepBefore + 1);
  }, 300_000);

  it('a lost device stops the run; Start re-creates the device and continues from the last good weights', async () => {
    const r = await page.evaluate(async () => {
      const h = window.harness;
      const c = h.client;
      const before = await c.runSteps(1); // snapshot at its end …
      await c.step(); // … confirmed by a finite loss
      const good = before.step;
      await c.injectFault('device-lost');
      while ((await c.status()).state !== 'error') await new Promise((r) => setTimeout(r, 50));
      const s = await c.status();
      const next = await c.runSteps(1);
      return { good, s, next };
    });
    expect(r.s.error).toMatchObject({ kind: 'device-lost', restoredStep: r.good, canContinue: true });
    expect(r.s.error!.suggestion).toMatch(/re-create the GPU device/);
    expect(r.s.step).toBe(r.good);
    expect(r.next.step).toBe(r.good + 1);
    expect(Number.isFinite(r.next.loss)).toBe(true);
  }, 300_000);

  it('dispose frees the GPU; later calls are refused as disposed', async () => {
    const r = await page.evaluate(async () => {
      const api = window.harness.client.api;
      await api.dispose();
      return api.runSteps(1).then(() => null, (e) => ({ name: e.name, kind: e.kind }));
    });
    expect(r).toEqual({ name: 'WorkerError', kind: 'disposed' });
    expect(errors).toEqual([]);
  }, 300_000);
});
