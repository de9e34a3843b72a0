// The worker's training session: owns the GPU engine, the model (a Trainer and its FcmaePlan),
// the dataset and the run loop. engine-worker.ts exposes it through comlink; nothing here knows
// about comlink except the `deliver` callback it is given for events.
//
// The loop (worker-driven: macrotask hops, never requestAnimationFrame):
//   take the prefetched batch → draw the mask → upload → encode forward, backward, AdamW (one
//   submission) with the loss copy → submit → start preparing the next batch → yield.
// At most two steps are in flight; their results are processed in order as they come back.
//
// Last good weights: every SNAPSHOT_EVERY steps (and at step 0) the step's submission also copies
// the parameters and AdamW moments into staging buffers. A snapshot taken after update k is
// promoted to "good" once a later step's loss (computed with those weights) came back finite and
// the snapshot holds no NaN/Inf. A run error (NaN loss, out-of-memory, GPU error) restores the
// good snapshot into the plan; after a device loss the next start re-creates the device and
// rebuilds the plan from it. Moments are snapshotted only for models up to
// SNAPSHOT_MOMENTS_MAX_FLOATS; above that a restore restarts AdamW's moments from zero.
import { upload } from '../gpu/buffers.ts';
import { adapterLabel } from '../gpu/device.ts';
import type { Engine } from '../gpu/engine.ts';
import { GpuDeviceLostError, GpuRuntimeError, WebGpuUnavailableError } from '../gpu/errors.ts';
import type { ShaderSources } from '../gpu/shader-library.ts';
import { initialParams, paramTable } from '../model/parameters.ts';
import { NonFiniteLossError, type TrainerState } from '../train/trainer.ts';
import { TrainingRun, type StepBatch } from '../train/run.ts';
import { generateMasks } from '../train/masking.ts';
import { learningRateAt } from '../train/lr-schedule.ts';
import { classifyChange, decodeSizeFor, defaultRunConfig, lrScheduleOf, modelOf, patchesOf } from '../train/run-config.ts';
import { Random } from '../util/random.ts';
import { BrowserDataset, EmptyDatasetError, type PixelDecoder } from '../data/browser-dataset.ts';
import type { FolderListing } from '../data/browser-folder.ts';
import { cancelledError, CancelRegistry, raceCancellation, throwIfCancelled } from './cancellation.ts';
import { encodeCheckpoint, openCheckpointForRun } from './checkpoint-files.ts';
import { runErrorOf, toWorkerError } from './errors.ts';
import { WorkerEvents, type Deliver } from './events.ts';
import { MetricsBatcher, batchTransferables, stepTimings } from './metrics.ts';
import { InFlightWindow, ThrottleDetector, yieldToEventLoop } from './scheduling.ts';
import { SnapshotStore } from './snapshots.ts';
import { DatasetHost } from './dataset-host.ts';
import { ModelHost, type Model } from './model-host.ts';
import { planInfo, validateTrainingConfig } from './training-config.ts';
import { matmulSelfTest } from './self-test.ts';
import { reconstructionResult } from './reconstruction-view.ts';
import {
  WorkerError,
  type CheckpointFormat,
  type CheckpointLoadResult,
  type ConfigResult,
  type DatasetSummary,
  type GpuStatus,
  type InjectedFault,
  type LoadCheckpointOptions,
  type LoadOptions,
  type ReconstructRequest,
  type ReconstructionResult,
  type RunError,
  type RunState,
  type SavedCheckpoint,
  type SelfTestResult,
  type SetConfigOptions,
  type StartOptions,
  type StepRecord,
  type Thumbnails,
  type ThumbnailRequest,
  type TrainingConfig,
  type WorkerEvent,
  type WorkerEventListener,
  type WorkerStatus,
} from './protocol.ts';

/** Steps between weight snapshots (plus step 0 and every pause). */
export const SNAPSHOT_EVERY = 10;
/** Models above this many parameter floats snapshot weights only (moments would cost 2× more). */
export const SNAPSHOT_MOMENTS_MAX_FLOATS = 16 * 1024 * 1024;
/** Profile phase times on steps 1, 11, 21, … when timestamp queries exist. */
export const PROFILE_EVERY = 10;
type Snapshot = TrainerState;


interface PreparedBatch extends StepBatch {
  key: string;
}

export class TrainingSession {
  readonly cancels = new CancelRegistry();
  private config: TrainingConfig = defaultRunConfig();

  // ---- run state
  private state: RunState = 'idle';
  private runId = 1;
  private completed = 0;
  private submitted = 0;
  private targetStep: number | null = null;
  private finishState: 'finished' | 'paused' = 'paused';
  private lastLoss: number | null = null;
  private lastRecord: StepRecord | null = null;
  private error: RunError | null = null;
  private loopPromise: Promise<void> | null = null;
  private stopRequested = false;
  private runStart: number | null = null;
  private lastDoneAt: number | null = null;
  /** The run over the current trainer and data set (rebuilt when either changes). */
  private run: TrainingRun | null = null;
  private runDataset: BrowserDataset | null = null;
  private prefetch: { key: string; promise: Promise<PreparedBatch> } | null = null;
  private readonly snapshots = new SnapshotStore();
  /** Set after a device loss: the next model build starts from it. */
  private restoreFrom: Snapshot | null = null;
  private readonly metrics = new MetricsBatcher();
  private metricsTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly throttle = new ThrottleDetector();
  private pageVisible = true;
  private readonly events: WorkerEvents;
  private readonly data: DatasetHost;
  private readonly models: ModelHost;

  constructor(
    shaders: ShaderSources,
    deliver: Deliver,
    gpuProvider: () => GPU | undefined,
    demoBaseUrl: string,
    /** Image decoder for the data sets (default: the browser's; Node tests pass the Node one). */
    decodeImage?: PixelDecoder,
  ) {
    this.events = new WorkerEvents(deliver);
    this.models = new ModelHost(shaders, gpuProvider, { lrAt: (k) => this.lrAt(k), onDeviceLost: (_engine, err) => this.onDeviceLost(err) });
    this.data = new DatasetHost(
      this.events,
      {
        decodeSize: () => decodeSizeFor(this.config.inputSize),
        swap: (fn) =>
          this.whilePaused(async () => {
            await fn();
            this.prefetch = null;
            // a new data set answers "no images" and decode storms
            if (this.error?.kind === 'no-dataset' || this.error?.kind === 'decode-storm') this.error = { ...this.error, canContinue: true };
          }),
        changed: () => this.emit({ type: 'status', status: this.status() }),
      },
      demoBaseUrl,
      decodeImage,
    );
  }

  // ============================================================================ GPU

  async init(): Promise<GpuStatus> {
    try {
      const engine = await this.models.ensureEngine();
      return { ok: true, adapter: engine.ctx.adapter, label: adapterLabel(engine.ctx.adapter) };
    } catch (e) {
      if (e instanceof WebGpuUnavailableError) return { ok: false, reason: e.reason, message: e.message, advice: e.advice };
      return { ok: false, reason: 'error', message: (e as Error).message, advice: 'Reload the page; if it persists, restart the browser.' };
    }
  }

  private onDeviceLost(err: GpuDeviceLostError): void {
    if (this.loopPromise) return; // the loop's failing step reports it
    this.afterDeviceLoss();
    this.error = runErrorOf(err, this.completed + 1, this.completed);
    this.setState('error');
  }

  /** GPU objects are gone: drop them and remember what to rebuild from. */
  private afterDeviceLoss(): void {
    this.restoreFrom = this.snapshots.good;
    this.models.forgetGpu();
    const good = this.snapshots.good;
    if (good) this.completed = this.submitted = good.step;
  }

  async matmulSelfTest(M: number, N: number, K: number, seed = 1): Promise<SelfTestResult> {
    const engine = this.models.engine;
    if (!engine) throw new WorkerError('no-gpu', 'GPU not initialised: call init() first', 'Call init() and check its GpuStatus.');
    return matmulSelfTest(engine, M, N, K, seed);
  }

  // ============================================================================ events

  subscribe(listener: WorkerEventListener): number {
    return this.events.subscribe(listener);
  }

  unsubscribe(id: number): void {
    this.events.unsubscribe(id);
  }

  private emit(event: WorkerEvent, transfer: Transferable[] = []): void {
    this.events.emit(event, transfer);
  }

  status(): WorkerStatus {
    return {
      state: this.state,
      step: this.completed,
      runId: this.runId,
      targetStep: this.targetStep,
      lastLoss: this.lastLoss,
      error: this.error,
      throttle: { throttled: this.throttle.throttled, factor: this.throttle.factor, pageVisible: this.pageVisible },
      config: { ...this.config, depths: [...this.config.depths], dims: [...this.config.dims] },
      plan: this.models.model ? planInfo(this.config, this.models.model.trainer.plan.arena.bytesAllocated) : null,
      hasDataset: this.dataset !== null,
    };
  }

  private setState(state: RunState): void {
    this.state = state;
    this.emit({ type: 'status', status: this.status() });
  }

  setPageVisible(visible: boolean): void {
    this.pageVisible = visible;
    this.emit({ type: 'status', status: this.status() });
  }

  private flushMetrics(force = false): void {
    const batch = this.metrics.take(performance.now(), force);
    if (batch) this.emit({ type: 'metrics', batch }, batchTransferables(batch));
    if (this.metrics.pending && !this.metricsTimer) {
      this.metricsTimer = setTimeout(() => {
        this.metricsTimer = null;
        this.flushMetrics();
      }, this.metrics.delayUntilDue(performance.now()) + 1);
    }
  }

  // ============================================================================ dataset

  loadListing(listing: FolderListing, source: 'files' | 'directory' | 'zip', options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    return this.data.loadListing(listing, source, options, signal);
  }

  loadDirectory(handle: FileSystemDirectoryHandle, options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    return this.data.loadDirectory(handle, options, signal);
  }

  loadZip(zip: Blob | Uint8Array, name: string, options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    return this.data.loadZip(zip, name, options, signal);
  }

  loadDemo(options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    return this.data.loadDemo(options, signal);
  }

  datasetSummary(): DatasetSummary | null {
    return this.data.summary();
  }

  thumbnails(request: ThumbnailRequest, signal: AbortSignal): Promise<Thumbnails> {
    return this.data.thumbnails(request, signal);
  }

  private get dataset(): BrowserDataset | null {
    return this.data.dataset;
  }

  private requireDataset(): BrowserDataset {
    return this.data.require();
  }

  // ============================================================================ model

  private lrAt(step: number): number {
    return learningRateAt(step - 1, lrScheduleOf(this.config));
  }

  /** Fresh weights for the config (what Trainer.create would draw) and a new run at step 0. */
  private async buildFresh(c: TrainingConfig): Promise<void> {
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

  /** Config c with a freshly built model; on failure the previous config and model stay. */
  private async replaceModel(c: TrainingConfig): Promise<void> {
    const previous = this.config;
    this.config = c;
    try {
      await this.buildFresh(c);
    } catch (e) {
      this.config = previous;
      throw e;
    }
    await this.data.setDecodeSize(decodeSizeFor(c.inputSize));
  }

  private newRun(snapshot: Snapshot): void {
    this.runId++;
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
  private async ensureModel(): Promise<Model> {
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
    return this.models.model!;
  }

  async setConfig(next: TrainingConfig, options: SetConfigOptions, signal: AbortSignal): Promise<ConfigResult> {
    const c = validateTrainingConfig(next);
    const change = classifyChange(this.config, c);
    const result = (applied: boolean, rebuilt: boolean): ConfigResult => ({
      applied,
      level: change.level,
      needsReset: change.level === 'reset' && !applied,
      resetReasons: change.resetReasons,
      changed: change.changed,
      rebuilt,
      plan: planInfo(applied ? c : this.config, this.models.model ? this.models.model.trainer.plan.arena.bytesAllocated : null),
      status: this.status(),
    });
    if (change.level === 'reset' && this.models.model && !options.allowReset) return result(false, false);
    throwIfCancelled(signal, 'setConfig');
    if (!this.models.model) {
      await this.replaceModel(c);
      this.emit({ type: 'status', status: this.status() });
      return result(true, true);
    }
    if (change.level === 'none') return result(true, false);
    if (change.level === 'live') {
      this.config = c;
      this.emit({ type: 'status', status: this.status() });
      return result(true, false);
    }
    if (change.level === 'reset') {
      // A new run: the loop stops and stays stopped (the person starts the new run).
      await this.stopLoop();
      throwIfCancelled(signal, 'setConfig');
      await this.replaceModel(c);
    } else {
      await this.whilePaused(async () => {
        throwIfCancelled(signal, 'setConfig');
        await this.rebuildKeepingRun(c);
      });
    }
    this.emit({ type: 'status', status: this.status() });
    return result(true, true);
  }

  /** New plan for `c` with the current weights, AdamW moments and step copied over on the GPU. */
  private async rebuildKeepingRun(c: TrainingConfig): Promise<void> {
    const old = this.models.model!;
    const table = old.trainer.plan.table;
    const trainer = await this.models.buildTrainer(c, new Float32Array(table.totalFloats));
    trainer.copyStateFrom(old.trainer);
    this.models.destroyModel(); // destroyed after the copy was submitted: Dawn frees them once it ran
    this.config = c;
    this.models.install(trainer, c);
    this.prefetch = null;
  }

  // ============================================================================ run control

  /** Runs fn with the loop stopped (after in-flight steps), then restarts it if it was running. */
  private async whilePaused<T>(fn: () => Promise<T>): Promise<T> {
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

  private async stopLoop(): Promise<void> {
    if (!this.loopPromise) return;
    this.stopRequested = true;
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
    const dataset = this.requireDataset();
    await this.ensureModel();
    let batch: PreparedBatch;
    try {
      batch = await raceCancellation(this.takeBatch(dataset), signal, 'step');
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

  async reset(seed: number | undefined, signal: AbortSignal): Promise<WorkerStatus> {
    await this.stopLoop();
    throwIfCancelled(signal, 'reset');
    if (seed !== undefined) {
      if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new WorkerError('config', `seed ${seed} must be an integer in 0..4294967295`, 'Choose another seed.');
      this.config = { ...this.config, seed };
    }
    const c = this.config;
    if (this.models.model && !this.models.lost) {
      // Same plan, fresh state: new weights, zeroed moments.
      const trainer = this.models.model.trainer;
      const fresh: Snapshot = { step: 0, params: initialParams(trainer.plan.table, new Random(c.seed)), m: null, v: null };
      await this.models.gpuLock.run(async () => trainer.restoreState(fresh));
      this.newRun(fresh);
    } else {
      this.restoreFrom = null;
      this.models.destroyModel();
      await this.buildFresh(c);
    }
    this.setState('ready');
    return this.status();
  }

  private startLoop(untilStep: number | null, finish: 'finished' | 'paused'): void {
    this.targetStep = untilStep;
    this.finishState = finish;
    this.stopRequested = false;
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

  private async takeBatch(dataset: BrowserDataset): Promise<PreparedBatch> {
    let p = this.prefetch;
    this.prefetch = null;
    if (!p || p.key !== this.batchKey()) p = this.prepareBatch(dataset);
    const batch = await p.promise;
    if (batch.key !== this.batchKey()) return this.takeBatch(dataset);
    return batch;
  }

  private async loop(): Promise<void> {
    const window = new InFlightWindow<void>(2);
    let failure: { error: unknown; step: number } | null = null;
    let results: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        if (this.stopRequested || failure) break;
        if (this.targetStep !== null && this.submitted >= this.targetStep) break;
        if (window.full) {
          await window.waitForRoom();
          continue;
        }
        const dataset = this.dataset;
        if (!dataset) {
          failure = { error: new EmptyDatasetError('(none)', 'no dataset is loaded'), step: this.submitted + 1 };
          break;
        }
        const waitStart = performance.now();
        let batch: PreparedBatch;
        try {
          batch = await this.takeBatch(dataset);
        } catch (e) {
          failure = { error: e, step: this.submitted + 1 };
          break;
        }
        const dataWaitMs = performance.now() - waitStart;
        if (this.stopRequested || failure || dataset !== this.dataset) {
          // Keep the drawn batch for the next start, so pausing does not skip data.
          if (dataset === this.dataset) this.prefetch = { key: batch.key, promise: Promise.resolve(batch) };
          break;
        }
        let pending: Promise<StepRecord>;
        const step = this.submitted + 1;
        try {
          ({ pending } = await this.models.gpuLock.run(async () => ({ pending: this.submitStep(batch, dataWaitMs) })));
        } catch (e) {
          failure = { error: e, step };
          break;
        }
        pending.catch(() => {});
        const processed = (results = results.then(() =>
          pending.then(
            (record) => {
              if (!failure) this.onStepDone(record);
            },
            (e) => {
              failure ??= { error: e, step };
            },
          ),
        ));
        window.add(processed);
        if (!this.prefetch) this.prefetch = this.prepareBatch(dataset);
        await yieldToEventLoop();
      }
      await window.drain();
      await results;
    } catch (e) {
      failure ??= { error: e, step: this.submitted };
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
        return k % SNAPSHOT_EVERY === 0 ? this.encodeSnapshot(encoder, k) : undefined;
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
        [{ loss, lr }, phaseMs] = await Promise.all([submitted.result, timing ? (timing as { read(): Promise<Float32Array> }).read() : Promise.resolve(null)]);
      } catch (e) {
        if (e instanceof NonFiniteLossError || e instanceof GpuRuntimeError) throw e;
        throw await this.deviceAware(engine, e);
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

  /** A read that failed because the device went away reports the loss, not "mapAsync failed". */
  private async deviceAware(engine: Engine, e: unknown): Promise<unknown> {
    if (engine.ctx.lostError) return engine.ctx.lostError;
    const lost = await Promise.race([engine.ctx.lost, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
    return lost ?? e;
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

  // ============================================================================ snapshots

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
  private async handleRunError(e: unknown, step: number): Promise<void> {
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
    } else {
      const gpuFailure = error instanceof NonFiniteLossError || error instanceof GpuRuntimeError || this.submitted > this.completed;
      if (gpuFailure && good && this.models.model) {
        this.models.model.trainer.restoreState(good);
        // Errors raised by the failed steps are stale now.
        this.models.model.trainer.engine.ctx.uncapturedErrors.length = 0;
        this.completed = this.submitted = good.step;
        restoredStep = good.step;
      } else {
        this.submitted = this.completed;
      }
    }
    this.error = runErrorOf(error, step, restoredStep);
    this.lastDoneAt = null;
    this.flushMetrics(true);
    this.setState('error');
  }

  // ============================================================================ reconstruction

  async reconstruct(request: ReconstructRequest, signal: AbortSignal): Promise<ReconstructionResult> {
    const dataset = this.requireDataset();
    const model = await this.ensureModel();
    const c = this.config;
    const maskRatio = request.maskRatio ?? c.maskRatio;
    const seed = request.seed ?? 1;
    let V: number;
    let L: number;
    try {
      ({ L, V } = patchesOf({ inputSize: model.built.inputSize, maskRatio }));
    } catch (e) {
      throw new WorkerError('config', (e as Error).message, 'Choose a smaller mask ratio.', { field: 'maskRatio', value: maskRatio });
    }
    const S = model.built.inputSize;
    const wanted = request.imageIndex !== undefined ? [dataset.slotAt(request.imageIndex)] : dataset.evaluationSlots(c.evalImages);
    const batch = await dataset.evaluationBatch(wanted, S);
    throwIfCancelled(signal, 'reconstruct');
    const N = batch.slots.length;
    const mask = generateMasks(N, L, V, new Random(seed));
    const trainer = await this.models.evalTrainer(N, V);
    throwIfCancelled(signal, 'reconstruct');
    const { r, step } = await this.models.gpuLock.run(async () => {
      const current = this.models.model;
      if (current !== model || !this.models.owns(trainer)) {
        throw new WorkerError('busy', 'the model changed while the reconstruction was prepared', 'Ask for the reconstruction again.');
      }
      if (trainer !== model.trainer) trainer.copyStateFrom(model.trainer, true);
      const step = this.submitted;
      return { r: await trainer.reconstruct(batch.images, mask), step };
    });
    return reconstructionResult({ runId: this.runId, step, maskRatio, seed, size: S, L, V, images: batch.images, mask, rec: r, normPix: model.trainer.plan.options.normPix, indices: batch.slots.map((s) => dataset.usableSlots().indexOf(s)), paths: batch.slots.map((s) => dataset.pathOf(s)) });
  }

  // ============================================================================ checkpoints

  async saveCheckpoint(format: CheckpointFormat, signal: AbortSignal): Promise<SavedCheckpoint> {
    const model = await this.ensureModel();
    const trainer = model.trainer;
    const { read, step } = await this.models.gpuLock.run(async () => {
      const encoder = trainer.engine.ctx.device.createCommandEncoder({ label: 'checkpoint' });
      const { read } = trainer.encodeStateRead(encoder, format === 'native');
      trainer.engine.ctx.device.queue.submit([encoder.finish()]);
      return { read, step: this.submitted };
    });
    const state = { ...(await raceCancellation(read(), signal, 'saveCheckpoint')), step };
    const data = { source: this.dataset ? `${this.dataset.source}:${this.dataset.name}` : 'none', imageCount: this.dataset?.size ?? 0 };
    return encodeCheckpoint(format, { built: model.built, current: this.config, state, data });
  }

  async loadCheckpoint(bytes: Uint8Array, fileName: string, options: LoadCheckpointOptions, signal: AbortSignal): Promise<CheckpointLoadResult> {
    // Everything that can refuse the file happens before the model is touched.
    const file = openCheckpointForRun(bytes, fileName, this.config);
    const { next, report, lines } = file;
    if (file.modelChanged && this.models.model && options.allowReset === false) {
      return { applied: false, needsReset: true, report, lines, optimizerRestored: false, status: this.status() };
    }
    throwIfCancelled(signal, 'loadCheckpoint');
    await this.stopLoop();
    // Tensors the file lacks keep the current weights (same model) or a fresh initialisation.
    const current = !file.modelChanged && this.models.model && !this.models.lost ? await this.models.model.trainer.readParams() : null;
    const state = file.state(current);
    const trainer = await this.models.buildTrainer(next, state.params);
    trainer.restoreState(state);
    this.models.destroyModel();
    const inputChanged = next.inputSize !== this.config.inputSize;
    this.config = next;
    this.models.install(trainer, next);
    this.newRun(state);
    if (inputChanged) await this.data.setDecodeSize(decodeSizeFor(next.inputSize));
    this.setState('ready');
    return { applied: true, needsReset: false, report, lines, optimizerRestored: state.m !== null, status: this.status() };
  }

  // ============================================================================ faults, dispose

  async injectFault(fault: InjectedFault): Promise<void> {
    const model = await this.ensureModel();
    if (fault === 'device-lost') {
      model.trainer.engine.ctx.device.destroy();
      await model.trainer.engine.ctx.lost;
      return;
    }
    if (fault === 'non-finite-weights') {
      await this.models.gpuLock.run(async () => {
        const nan = new Float32Array(64).fill(Number.NaN);
        upload(model.trainer.engine.ctx.device, model.trainer.plan.params, nan);
      });
      return;
    }
    throw new WorkerError('config', `unknown fault ${String(fault)}`, "Use 'device-lost' or 'non-finite-weights'.");
  }

  async dispose(): Promise<void> {
    await this.stopLoop().catch(() => {});
    this.models.dispose();
    if (this.metricsTimer) clearTimeout(this.metricsTimer);
    await this.data.dispose();
    this.events.dispose();
  }
}
