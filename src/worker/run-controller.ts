// The worker's run controller: the run's state machine (idle → ready → running → pausing →
// paused / finished / error), the loop's driver, single steps, pauses that keep the prefetched
// batch, the known-good snapshots and what happens when a step fails (a non-finite loss, a GPU
// error, a lost device): the run stops with a typed status and goes on from the last good
// weights. It drives the one training run (src/train/run.ts); the session owns configuration,
// checkpoints and reconstructions.
//
// The loop is src/train/step-loop.ts (two steps in flight, the next batch drawn while the GPU
// works, results in order, the first failure stops it); this driver gives it the batch (kept
// across pauses, keyed by run, data set, shape and step), the submission under the GPU lock
// (forward, backward, AdamW and the loss copy in one submission) and a macrotask hop between
// steps (worker-driven, never requestAnimationFrame), and takes the results.
//
// Last good weights: on the first step of every stretch (new run, restore), then every
// SNAPSHOT_EVERY steps or SNAPSHOT_INTERVAL_MS, whichever comes first (and at every pause), the
// step's submission also copies the parameters and AdamW moments into staging buffers
// (snapshots.ts). A snapshot taken after update k becomes "good" once a later step's loss came
// back finite and it holds no NaN/Inf. A run error restores it into the plan; after a device
// loss the next start re-creates the device and rebuilds the plan from it; a loss the browser
// reports as 'unknown' (a GPU process crash, a driver reset: the adapter is gone too) is
// recovered at once, without waiting for Start: a new adapter and device, every plan rebuilt
// from the kept snapshot (recoverDevice). Moments are snapshotted only for models up to
// SNAPSHOT_MOMENTS_MAX_FLOATS; above that a restore restarts AdamW's moments from zero.
import { GpuDeviceLostError, GpuRuntimeError, WebGpuUnavailableError } from '../gpu/errors.ts';
import { initialParams, paramTable } from '../model/parameters.ts';
import { NonFiniteLossError, type TrainerState } from '../train/trainer.ts';
import { TrainingRun, type StepBatch } from '../train/run.ts';
import { modelOf, type RunConfig } from '../train/run-config.ts';
import { runStepLoop, type StepFailure } from '../train/step-loop.ts';
import { Random } from '../util/random.ts';
import { EmptyDatasetError, type BrowserDataset } from '../data/browser-dataset.ts';
import { cancelledError, raceCancellation, throwIfCancelled } from './cancellation.ts';
import { runErrorOf, toWorkerError } from './errors.ts';
import type { WorkerEvents } from './events.ts';
import { MetricsBatcher, batchTransferables, stepTimings } from './metrics.ts';
import type { DatasetHost } from './dataset-host.ts';
import type { Model, ModelHost } from './model-host.ts';
import { ThrottleDetector, yieldToEventLoop } from './scheduling.ts';
import { SnapshotSchedule, SnapshotStore } from './snapshots.ts';
import { WorkerError, type RunError, type RunState, type StartOptions, type StepRecord, type WorkerEvent, type WorkerStatus } from './protocol.ts';

/** Steps between weight snapshots (plus step 0, the first step of each stretch and every pause). */
export const SNAPSHOT_EVERY = 10;
/** Time between weight snapshots when steps are slow: a crash loses at most this much work. */
export const SNAPSHOT_INTERVAL_MS = 10_000;
/** Models up to this many parameter floats send every good snapshot to the page; larger ones one a minute (each is a copy). */
export const PAGE_KEEP_EAGER_FLOATS = 4 * 1024 * 1024;
export const PAGE_KEEP_INTERVAL_MS = 60_000;
/** Waits between tries to re-create a device after a GPU process crash (the browser restarts it meanwhile). */
export const RECOVERY_DELAYS_MS = [200, 500, 1000, 2000, 4000, 8000];
/** Models above this many parameter floats snapshot weights only (moments would cost 2× more). */
export const SNAPSHOT_MOMENTS_MAX_FLOATS = 16 * 1024 * 1024;
/** Profile phase times on steps 1, 11, 21, … when timestamp queries exist. */
export const PROFILE_EVERY = 10;

type Snapshot = TrainerState;

interface PreparedBatch extends StepBatch {
  key: string;
}

export class RunController {
  state: RunState = 'idle';
  runId = 1;
  /** Steps whose loss came back. */
  completed = 0;
  /** Steps queued on the GPU. */
  submitted = 0;
  targetStep: number | null = null;
  private finishState: 'finished' | 'paused' = 'paused';
  lastLoss: number | null = null;
  lastRecord: StepRecord | null = null;
  error: RunError | null = null;
  loopPromise: Promise<void> | null = null;
  private stopRequested = false;
  /** Aborted to stop the loop that runs now (after its steps in flight). */
  private loopStop: AbortController | null = null;
  private runStart: number | null = null;
  private lastDoneAt: number | null = null;
  /** The run over the current trainer and data set (rebuilt when either changes). */
  private run: TrainingRun | null = null;
  private runDataset: BrowserDataset | null = null;
  /** The next step's batch, drawn while the current one runs (dropped when anything it depends on changes). */
  prefetch: { key: string; promise: Promise<PreparedBatch> } | null = null;
  /** Every good snapshot goes to the page too: a restarted worker continues from it (session.ts restoreRun). */
  readonly snapshots = new SnapshotStore((state) => this.keepOnPage(state));
  readonly schedule = new SnapshotSchedule(SNAPSHOT_EVERY, SNAPSHOT_INTERVAL_MS);
  /** Re-creating the device and the model after a loss (recoverDevice), null otherwise. */
  private recovery: Promise<void> | null = null;
  /** Set after a device loss: the next model build starts from it. */
  restoreFrom: Snapshot | null = null;
  readonly metrics = new MetricsBatcher();
  metricsTimer: ReturnType<typeof setTimeout> | null = null;
  readonly throttle = new ThrottleDetector();

  constructor(
    private readonly models: ModelHost,
    private readonly data: DatasetHost,
    private readonly events: WorkerEvents,
    private readonly host: {
      /** The run configuration now (live keys included). */
      config(): RunConfig;
      status(): WorkerStatus;
      /** Steps after which the loop drains and runs `atPausePoint` (kNN tracking). */
      pausePoint?(step: number): boolean;
      /** Runs with nothing in flight, the weights those after `step`; a throw stops the run at that step. */
      atPausePoint?(step: number): Promise<void>;
    },
  ) {}

  private get config(): RunConfig {
    return this.host.config();
  }

  private status(): WorkerStatus {
    return this.host.status();
  }

  private emit(event: WorkerEvent, transfer: Transferable[] = []): void {
    this.events.emit(event, transfer);
  }

  private get dataset(): BrowserDataset | null {
    return this.data.dataset;
  }

  private requireDataset(): BrowserDataset {
    return this.data.require();
  }

  private lastKeptAt: number | null = null;

  /** Sends a copy of a good snapshot to the page (the store keeps its own arrays); large models at most once a minute. */
  private keepOnPage(state: Snapshot): void {
    const now = performance.now();
    if (state.params.length > PAGE_KEEP_EAGER_FLOATS && state.step > 0 && this.lastKeptAt !== null && now - this.lastKeptAt < PAGE_KEEP_INTERVAL_MS) return;
    this.lastKeptAt = now;
    // the curve's points up to this step reach the page first: a worker dying right after cannot leave a gap
    this.flushMetrics(true);
    const copy: Snapshot = { step: state.step, params: state.params.slice(), m: state.m?.slice() ?? null, v: state.v?.slice() ?? null };
    const transfer = [copy.params.buffer, copy.m?.buffer, copy.v?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    this.emit({ type: 'snapshot', snapshot: { runId: this.runId, config: { ...this.config }, state: copy } }, transfer);
  }

  onDeviceLost(err: GpuDeviceLostError): void {
    if (this.loopPromise) return; // the loop's failing step reports it
    this.afterDeviceLoss();
    this.error = runErrorOf(err, this.completed + 1, this.completed);
    this.setState('error');
    if (err.reason === 'unknown') this.recoverDevice();
  }

  /**
   * After a GPU process crash: a new adapter and device (the old adapter is gone), and the model
   * rebuilt from the kept snapshot, tried a few times while the browser restarts its GPU process.
   * The run stays stopped at the restored step (the status says which); Start continues.
   */
  recoverDevice(): void {
    if (this.recovery) return;
    this.recovery = (async () => {
      let last: unknown = null;
      for (const wait of RECOVERY_DELAYS_MS) {
        await new Promise((r) => setTimeout(r, wait));
        if (this.models.model && !this.models.lost) return;
        try {
          await this.buildModel();
          this.emit({ type: 'status', status: this.status() });
          return;
        } catch (e) {
          if (e instanceof WorkerError && e.kind === 'disposed') return;
          last = e;
          if (this.models.lost) this.afterDeviceLoss();
        }
      }
      if (this.error && last) {
        const step = this.completed;
        // Chrome refuses WebGPU to a page whose GPU process crashed repeatedly (no adapter at all)
        const refused = last instanceof WebGpuUnavailableError && last.reason === 'no-adapter';
        this.error = {
          ...this.error,
          message: refused
            ? `The GPU process crashed again and the browser now refuses WebGPU to this page (no adapter after ${RECOVERY_DELAYS_MS.length} tries); the weights of step ${step} are kept in the worker`
            : `The GPU device was lost and could not be re-created (${(last as Error).message ?? String(last)}); the weights of step ${step} are kept in the worker`,
          suggestion: 'Save a checkpoint now (it is written from the kept weights, no GPU needed), then reload the page or restart the browser and load it; or press Start to try the GPU again.',
        };
      }
      this.emit({ type: 'status', status: this.status() });
    })().finally(() => {
      this.recovery = null;
    });
  }

  /** GPU objects are gone: drop them and remember what to rebuild from. */
  afterDeviceLoss(): void {
    this.restoreFrom = this.snapshots.good;
    this.models.forgetGpu();
    const good = this.snapshots.good;
    if (good) this.completed = this.submitted = good.step;
  }

  setState(state: RunState): void {
    this.state = state;
    this.emit({ type: 'status', status: this.status() });
  }

  flushMetrics(force = false): void {
    const batch = this.metrics.take(performance.now(), force);
    if (batch) this.emit({ type: 'metrics', batch }, batchTransferables(batch));
    if (this.metrics.pending && !this.metricsTimer) {
      this.metricsTimer = setTimeout(() => {
        this.metricsTimer = null;
        this.flushMetrics();
      }, this.metrics.delayUntilDue(performance.now()) + 1);
    }
  }

  /** Fresh weights for the config (what Trainer.create would draw) and a new run at step 0. */
  async buildFresh(c: RunConfig): Promise<void> {
    // Trainer.create checks the size too, but drawing the weights comes first and takes seconds
    // (gigabytes) for the largest models: refuse before that.
    await this.models.assertFits(c);
    const table = paramTable(modelOf(c));
    const params = initialParams(table, new Random(c.seed));
    const trainer = await this.models.buildTrainer(c, params);
    this.models.destroyModel();
    this.models.install(trainer, c);
    this.newRun({ step: 0, params, m: null, v: null });
  }

  newRun(snapshot: Snapshot): void {
    this.runId++;
    this.schedule.reset();
    this.completed = this.submitted = snapshot.step;
    this.snapshots.reset(snapshot);
    this.restoreFrom = null;
    this.lastLoss = null;
    this.lastRecord = null;
    this.error = null;
    this.runStart = null;
    this.lastDoneAt = null;
    this.targetStep = null;
    this.prefetch = null;
    this.run = null;
    this.throttle.reset();
    this.state = 'ready';
  }

  /** A model exists for the current config (built now if needed, restored after a device loss). */
  async ensureModel(): Promise<Model> {
    // a recovery under way builds it: wait for that instead of building a second one
    while (this.recovery) await this.recovery;
    return this.buildModel();
  }

  private async buildModel(): Promise<Model> {
    if (this.models.model && !this.models.lost) return this.models.model;
    if (this.models.lost) this.afterDeviceLoss();
    const restore = this.restoreFrom;
    if (!restore) {
      await this.buildFresh(this.config);
      return this.models.model!;
    }
    const trainer = await this.models.buildTrainer(this.config, restore.params);
    trainer.restoreState(restore);
    this.models.install(trainer, this.config);
    this.completed = this.submitted = restore.step;
    this.restoreFrom = null;
    this.schedule.reset();
    return this.models.model!;
  }

  /** Runs fn with the loop stopped (after in-flight steps), then restarts it if it was running. */
  async whilePaused<T>(fn: () => Promise<T>): Promise<T> {
    const wasRunning = this.loopPromise !== null && !this.stopRequested;
    const target = this.targetStep;
    const finish = this.finishState;
    if (wasRunning) await this.stopLoop();
    try {
      return await fn();
    } finally {
      if (wasRunning && !this.error && this.models.model) this.startLoop(target, finish);
    }
  }

  async stopLoop(): Promise<void> {
    if (!this.loopPromise) return;
    this.stopRequested = true;
    this.loopStop?.abort();
    if (this.state === 'running') this.setState('pausing');
    await this.loopPromise;
  }

  /** Clears a continuable error so the run can go on. */
  private clearErrorForContinue(): void {
    if (!this.error) return;
    if (!this.error.canContinue) {
      throw new WorkerError(this.error.kind, this.error.message, this.error.suggestion);
    }
    if (this.error.kind === 'no-dataset' && !this.dataset) throw new WorkerError('no-dataset', 'no dataset is loaded', 'Load the demo set or drop a folder of images first.');
    this.dataset?.resetStorm();
    this.error = null;
  }

  async start(options: StartOptions = {}): Promise<WorkerStatus> {
    if (this.loopPromise && !this.stopRequested) return this.status();
    if (this.loopPromise) await this.loopPromise;
    this.clearErrorForContinue();
    this.requireDataset();
    await this.ensureModel();
    const total = this.config.totalSteps;
    const until = options.untilStep ?? (this.completed < total ? total : null);
    this.startLoop(until, 'finished');
    return this.status();
  }

  async pause(): Promise<WorkerStatus> {
    await this.stopLoop();
    return this.status();
  }

  async runSteps(count: number, signal: AbortSignal): Promise<StepRecord> {
    if (!Number.isInteger(count) || count < 1) throw new WorkerError('config', `runSteps count ${count} must be an integer ≥ 1`, 'Ask for at least one step.');
    if (this.loopPromise) throw new WorkerError('busy', 'the loop is running', 'Pause first, or use start() to keep it running.');
    this.clearErrorForContinue();
    this.requireDataset();
    await this.ensureModel();
    throwIfCancelled(signal, 'runSteps');
    const onAbort = () => void this.stopLoop();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.startLoop(this.submitted + count, 'paused');
      await this.loopPromise;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (this.error) throw new WorkerError(this.error.kind, this.error.message, this.error.suggestion, { step: this.error.step, restoredStep: this.error.restoredStep });
    if (signal.aborted) throw cancelledError('runSteps');
    return this.lastRecord!;
  }

  async step(signal: AbortSignal): Promise<StepRecord> {
    if (this.loopPromise) throw new WorkerError('busy', 'the loop is running', 'Pause first, then step.');
    this.clearErrorForContinue();
    let dataset = this.requireDataset();
    await this.ensureModel();
    let batch: PreparedBatch;
    try {
      batch = await raceCancellation(this.takeBatch(dataset), signal, 'step');
      // a data set swapped in meanwhile (a swap does not wait for a manual step): its images, not the old set's
      while (dataset !== this.dataset) batch = await raceCancellation(this.takeBatch((dataset = this.requireDataset())), signal, 'step');
    } catch (e) {
      if (e instanceof WorkerError && e.kind === 'cancelled') throw e;
      await this.handleRunError(e, this.submitted + 1);
      throw toWorkerError(e);
    }
    const submittedStep = this.submitted + 1;
    // A manual step's gap to the previous one is the person's pause, not throttling.
    this.lastDoneAt = null;
    try {
      // Wrapped: the lock covers the submission only, not the wait for the loss.
      const { pending } = await this.models.gpuLock.run(async () => ({ pending: this.submitStep(batch, 0) }));
      const record = await pending;
      this.onStepDone(record);
      this.flushMetrics(true);
      this.state = 'paused';
      this.emit({ type: 'status', status: this.status() });
      return record;
    } catch (e) {
      await this.handleRunError(e, submittedStep);
      throw toWorkerError(e);
    }
  }

  private startLoop(untilStep: number | null, finish: 'finished' | 'paused'): void {
    this.targetStep = untilStep;
    this.finishState = finish;
    this.stopRequested = false;
    this.loopStop = new AbortController();
    this.throttle.reset();
    this.lastDoneAt = null;
    this.setState('running');
    this.loopPromise = this.loop().finally(() => {
      this.loopPromise = null;
    });
  }

  /** The run over the current trainer and data set: the batch of step k is a function of (seed, data, settings, k). */
  private trainingRun(dataset: BrowserDataset): TrainingRun {
    const trainer = this.models.model?.trainer;
    if (!trainer) throw new WorkerError('internal', 'no model to train', 'Reload the page.');
    if (!this.run || this.run.trainer !== trainer || this.runDataset !== dataset || this.run.seed !== this.config.seed) {
      this.run = new TrainingRun(trainer, dataset.batchSource(), this.config.seed);
      this.runDataset = dataset;
    }
    return this.run;
  }

  /** Identifies what a prepared batch was drawn for (a batch of another run, shape, data set or step is dropped). */
  private batchKey(step = this.submitted + 1): string {
    return `${this.runId}:${this.data.generation}:${this.config.batchSize}x${this.config.inputSize}:${step}`;
  }

  /** Starts drawing the batch of step `step` (the next one by default). */
  private prepareBatch(dataset: BrowserDataset, step = this.submitted + 1): { key: string; promise: Promise<PreparedBatch> } {
    const key = this.batchKey(step);
    const promise = (async (): Promise<PreparedBatch> => {
      if (dataset.size === 0) throw new EmptyDatasetError(dataset.name, 'no image could be decoded');
      return { key, ...(await this.trainingRun(dataset).batchFor(step)) };
    })();
    promise.catch(() => {}); // surfaced when taken
    return { key, promise };
  }

  /** The batch of step `step`: the kept one when it still fits, else drawn now (again if something changed meanwhile). */
  private async takeBatch(dataset: BrowserDataset, step = this.submitted + 1): Promise<PreparedBatch> {
    const kept = this.prefetch;
    this.prefetch = null;
    for (let p = kept && kept.key === this.batchKey(step) ? kept : this.prepareBatch(dataset, step); ; p = this.prepareBatch(dataset, step)) {
      const batch = await p.promise;
      if (batch.key === this.batchKey(step)) return batch;
    }
  }

  /** The loop's input: a batch of the current data set (a swap meanwhile stops the loop; the batch is kept, and dropped by its key). */
  private async loopBatch(step: number): Promise<PreparedBatch> {
    const dataset = this.dataset;
    const stop = this.loopStop;
    if (!dataset) throw new EmptyDatasetError('(none)', 'no dataset is loaded');
    const batch = await this.takeBatch(dataset, step);
    if (dataset !== this.dataset) stop?.abort();
    return batch;
  }

  private async loop(): Promise<void> {
    let failure: StepFailure | null;
    try {
      const end = await runStepLoop<PreparedBatch, StepRecord>(
        {
          prepare: (step) => this.loopBatch(step),
          // The lock covers the submission only, not the wait for the loss.
          submit: (_step, batch, inputWaitMs) => this.models.gpuLock.run(async () => ({ result: this.submitStep(batch, inputWaitMs) })),
          deliver: (record) => this.onStepDone(record),
          pauseAfter: (step) => this.host.pausePoint?.(step) ?? false,
          pause: async (step) => {
            this.flushMetrics(true);
            await this.host.atPausePoint?.(step);
          },
        },
        { first: this.submitted + 1, last: this.targetStep, depth: 2, prefetch: true, signal: this.loopStop!.signal, betweenSteps: yieldToEventLoop },
      );
      failure = end.failure;
      // Keep the drawn batch for the next start, so pausing does not skip data (its key drops it if the run moved on).
      if (!failure && end.unused) this.prefetch = { key: this.batchKey(end.unused.step), promise: end.unused.input };
    } catch (e) {
      failure = { error: e, step: this.submitted };
    }
    if (failure) {
      await this.handleRunError(failure.error, failure.step);
      return;
    }
    this.flushMetrics(true);
    const reached = this.targetStep !== null && this.completed >= this.targetStep;
    this.snapshotNow();
    this.setState(reached ? this.finishState : 'paused');
  }

  /** Submits one training step; the promise resolves when its loss is back. */
  private submitStep(batch: PreparedBatch, dataWaitMs: number): Promise<StepRecord> {
    const model = this.models.model;
    const engine = this.models.engine;
    if (!model || !engine) throw new WorkerError('internal', 'no model to step', 'Reload the page.');
    if (engine.ctx.lostError) throw engine.ctx.lostError;
    const N = model.trainer.plan.shape.batchSize;
    const k = this.submitted + 1;
    const profiler = model.profiler && k % PROFILE_EVERY === 1 ? model.profiler : null;
    let timing: { read(): Promise<Float32Array> } | null = null;
    const submitted = this.trainingRun(this.runDataset!).submit(batch, {
      encode: profiler ? (encoder) => profiler.encodeStep(encoder) : undefined,
      beforeSubmit: (encoder) => {
        timing = profiler ? profiler.resolve(encoder) : null;
        return this.schedule.take(k, performance.now()) ? this.encodeSnapshot(encoder, k) : undefined;
      },
    });
    const { submittedAt } = submitted;
    this.submitted = k;
    this.runStart ??= submittedAt;
    const runId = this.runId;
    const runStart = this.runStart;
    return (async () => {
      let loss: number;
      let lr: number;
      let phaseMs: Float32Array | null = null;
      try {
        // Same submission: the timestamps are ready when the loss is.
        // raced with the device's loss: a read-back on a crashed GPU process may never settle
        [{ loss, lr }, phaseMs] = await this.models.untilLost(engine, Promise.all([submitted.result, timing ? (timing as { read(): Promise<Float32Array> }).read() : Promise.resolve(null)]));
      } catch (e) {
        if (e instanceof NonFiniteLossError || e instanceof GpuRuntimeError) throw e;
        throw await this.models.deviceAware(engine, e);
      }
      const doneAt = performance.now();
      const t = stepTimings({ submittedAt, doneAt, previousDoneAt: this.lastDoneAt, batchSize: N });
      const gap = this.lastDoneAt === null ? null : doneAt - this.lastDoneAt;
      this.lastDoneAt = doneAt;
      if (gap !== null && this.throttle.add({ gapMs: gap, stepMs: t.stepMs, dataWaitMs })) this.emit({ type: 'status', status: this.status() });
      if (phaseMs && profiler && runId === this.runId) this.metrics.pushPhases(k, profiler.names, phaseMs);
      return { runId, step: k, loss, lr, stepMs: t.stepMs, imagesPerSec: t.imagesPerSec, wallMs: doneAt - runStart };
    })();
  }

  private onStepDone(record: StepRecord): void {
    if (record.runId !== this.runId) return;
    this.completed = Math.max(this.completed, record.step);
    this.lastLoss = record.loss;
    this.lastRecord = record;
    this.metrics.push(record);
    this.snapshots.promote(this.completed);
    this.flushMetrics();
  }

  /**
   * Encodes copies of params (and moments) into staging buffers; the returned function, called
   * after submit, starts reading them.
   */
  private encodeSnapshot(encoder: GPUCommandEncoder, step: number): () => void {
    const trainer = this.models.model!.trainer;
    const withMoments = trainer.plan.table.totalFloats <= SNAPSHOT_MOMENTS_MAX_FLOATS;
    const pending = trainer.encodeStateRead(encoder, withMoments);
    const entry = this.snapshots.expect(step);
    return () => {
      pending.read().then(
        (state) => this.snapshots.fulfil(entry, state, this.completed),
        () => this.snapshots.drop(entry),
      );
    };
  }

  /** A snapshot now, between steps (pause): validated like the others by the next finite loss. */
  private snapshotNow(): void {
    const model = this.models.model;
    if (!model || this.models.lost || this.submitted === 0) return;
    if (this.snapshots.has(this.submitted)) return;
    const device = model.trainer.engine.ctx.device;
    const encoder = device.createCommandEncoder({ label: 'snapshot' });
    const start = this.encodeSnapshot(encoder, this.submitted);
    device.queue.submit([encoder.finish()]);
    start();
  }

  /** Stops the run with a typed status; restores the last good weights where the GPU still works. */
  async handleRunError(e: unknown, step: number): Promise<void> {
    const engine = this.models.engine;
    let error = e;
    if (engine?.ctx.lostError || e instanceof GpuDeviceLostError) error = engine?.ctx.lostError ?? e;
    this.snapshots.settle(this.completed);
    this.prefetch = null;
    const good = this.snapshots.good;
    const lost = error instanceof GpuDeviceLostError;
    let restoredStep = this.completed;
    if (lost) {
      this.afterDeviceLoss();
      restoredStep = this.completed;
      if ((error as GpuDeviceLostError).reason === 'unknown') this.recoverDevice();
    } else {
      const gpuFailure = error instanceof NonFiniteLossError || error instanceof GpuRuntimeError || this.submitted > this.completed;
      if (gpuFailure && good && this.models.model) {
        this.models.model.trainer.restoreState(good);
        // Errors raised by the failed steps are stale now.
        this.models.model.trainer.engine.ctx.uncapturedErrors.length = 0;
        this.completed = this.submitted = good.step;
        restoredStep = good.step;
        this.schedule.reset();
      } else {
        this.submitted = this.completed;
      }
    }
    this.error = runErrorOf(error, step, restoredStep);
    this.lastDoneAt = null;
    this.flushMetrics(true);
    this.setState('error');
  }
}
