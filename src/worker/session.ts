// The worker's training session: the API engine-worker.ts exposes through comlink (nothing here
// knows about comlink except the `deliver` callback it is given for events). It owns the run's
// configuration and puts the pieces together: the GPU and model (model-host.ts), the data set
// (dataset-host.ts), the run's state machine and loop (run-controller.ts), events (events.ts);
// here are what changes the run from outside it: settings (live, rebuilt keeping the run, or
// reset), checkpoints (checkpoint-files.ts), reconstructions, a run handed over from a worker
// that died (restoreRun), faults for tests.
import { upload } from '../gpu/buffers.ts';
import { adapterLabel } from '../gpu/device.ts';
import { GpuDeviceLostError, WebGpuUnavailableError } from '../gpu/errors.ts';
import type { ShaderSources } from '../gpu/shader-library.ts';
import { initialParams } from '../model/parameters.ts';
import type { TrainerState } from '../train/trainer.ts';
import { generateMasks } from '../train/masking.ts';
import { learningRateAt } from '../train/lr-schedule.ts';
import { classifyChange, decodeSizeFor, defaultRunConfig, lrScheduleOf, patchesOf } from '../train/run-config.ts';
import { Random } from '../util/random.ts';
import type { BrowserDataset, PixelDecoder } from '../data/browser-dataset.ts';
import type { FolderListing } from '../data/browser-folder.ts';
import { CancelRegistry, raceCancellation, throwIfCancelled } from './cancellation.ts';
import { encodeCheckpoint, openCheckpointForRun } from './checkpoint-files.ts';
import { WorkerEvents, type Deliver } from './events.ts';
import { RunController } from './run-controller.ts';
import { DatasetHost } from './dataset-host.ts';
import { ModelHost } from './model-host.ts';
import { EvaluationHost } from './evaluation-host.ts';
import { planInfo, validateTrainingConfig } from './training-config.ts';
import { toWorkerError } from './errors.ts';
import { matmulSelfTest } from './self-test.ts';
import { reconstructionResult } from './reconstruction-view.ts';
import {
  WorkerError,
  type CheckpointFormat,
  type CheckpointLoadResult,
  type ConfigResult,
  type DatasetSummary,
  type ActivationGridRequest,
  type ActivationGridResult,
  type CollapseRequest,
  type CollapseResultView,
  type EmbedRequest,
  type EmbedResult,
  type ProbeRequest,
  type ProbeResult,
  type FineTuneRequest,
  type FineTuneResult,
  type GpuStatus,
  type InjectedFault,
  type KeptSnapshot,
  type KnnTracking,
  type LoadCheckpointOptions,
  type LoadOptions,
  type ReconstructRequest,
  type ReconstructionResult,
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

type Snapshot = TrainerState;

export class TrainingSession {
  readonly cancels = new CancelRegistry();
  private config: TrainingConfig = defaultRunConfig();
  private pageVisible = true;
  private readonly events: WorkerEvents;
  private readonly data: DatasetHost;
  private readonly models: ModelHost;
  private readonly runner: RunController;
  private readonly evaluation: EvaluationHost;

  constructor(
    shaders: ShaderSources,
    deliver: Deliver,
    gpuProvider: () => GPU | undefined,
    demoBaseUrl: string,
    /** Image decoder for the data sets (default: the browser's; Node tests pass the Node one). */
    decodeImage?: PixelDecoder,
  ) {
    this.events = new WorkerEvents(deliver);
    this.models = new ModelHost(shaders, gpuProvider, { lrAt: (k) => this.lrAt(k), onDeviceLost: (_engine, err) => this.runner.onDeviceLost(err) });
    this.data = new DatasetHost(
      this.events,
      {
        decodeSize: () => decodeSizeFor(this.config.inputSize),
        swap: (fn) =>
          this.runner.whilePaused(async () => {
            await fn();
            this.runner.prefetch = null;
            // a new data set answers "no images" and decode storms
            if (this.runner.error?.kind === 'no-dataset' || this.runner.error?.kind === 'decode-storm') this.runner.error = { ...this.runner.error, canContinue: true };
          }),
        changed: () => this.emit({ type: 'status', status: this.status() }),
      },
      demoBaseUrl,
      decodeImage,
    );
    this.runner = new RunController(this.models, this.data, this.events, {
      config: () => this.config,
      status: () => this.status(),
      pausePoint: (step) => this.knnTracking !== null && step % this.knnTracking.every === 0,
      atPausePoint: (step) => this.trackKnn(step),
    });
    this.evaluation = new EvaluationHost(this.models, this.data, this.events, demoBaseUrl, {
      config: () => this.config,
      whilePaused: (fn) => this.runner.whilePaused(fn),
      ensureModel: () => this.runner.ensureModel(),
    });
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
      state: this.runner.state,
      step: this.runner.completed,
      runId: this.runner.runId,
      targetStep: this.runner.targetStep,
      lastLoss: this.runner.lastLoss,
      error: this.runner.error,
      throttle: { throttled: this.runner.throttle.throttled, factor: this.runner.throttle.factor, pageVisible: this.pageVisible },
      config: { ...this.config, depths: [...this.config.depths], dims: [...this.config.dims] },
      plan: this.models.model ? planInfo(this.config, this.models.model.trainer.plan.arena.bytesAllocated) : null,
      hasDataset: this.dataset !== null,
    };
  }

  setPageVisible(visible: boolean): void {
    this.pageVisible = visible;
    this.emit({ type: 'status', status: this.status() });
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

  /** Config c with a freshly built model; on failure the previous config and model stay. */
  private async replaceModel(c: TrainingConfig): Promise<void> {
    const previous = this.config;
    this.config = c;
    try {
      await this.runner.buildFresh(c);
    } catch (e) {
      this.config = previous;
      throw e;
    }
    await this.data.setDecodeSize(decodeSizeFor(c.inputSize));
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
      await this.runner.stopLoop();
      throwIfCancelled(signal, 'setConfig');
      await this.replaceModel(c);
    } else {
      await this.runner.whilePaused(async () => {
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
    this.runner.prefetch = null;
  }

  // ============================================================================ run control

  start(options: StartOptions = {}): Promise<WorkerStatus> {
    return this.runner.start(options);
  }

  pause(): Promise<WorkerStatus> {
    return this.runner.pause();
  }

  runSteps(count: number, signal: AbortSignal): Promise<StepRecord> {
    return this.runner.runSteps(count, signal);
  }

  step(signal: AbortSignal): Promise<StepRecord> {
    return this.runner.step(signal);
  }

  async reset(seed: number | undefined, signal: AbortSignal): Promise<WorkerStatus> {
    await this.runner.stopLoop();
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
      this.runner.newRun(fresh);
    } else {
      this.runner.restoreFrom = null;
      this.models.destroyModel();
      await this.runner.buildFresh(c);
    }
    this.runner.setState('ready');
    return this.status();
  }

  // ============================================================================ snapshots

  // ============================================================================ reconstruction

  async reconstruct(request: ReconstructRequest, signal: AbortSignal): Promise<ReconstructionResult> {
    const dataset = this.requireDataset();
    const model = await this.runner.ensureModel();
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
      const step = this.runner.submitted;
      try {
        return { r: await this.models.untilLost(trainer.engine, trainer.reconstruct(batch.images, mask)), step };
      } catch (e) {
        throw await this.models.deviceAware(trainer.engine, e);
      }
    });
    // a data set swapped in meanwhile: these are the old set's images; show the new set's
    if (this.data.dataset !== dataset) return this.reconstruct(request, signal);
    return reconstructionResult({ runId: this.runner.runId, step, maskRatio, seed, size: S, L, V, images: batch.images, mask, rec: r, normPix: model.trainer.plan.options.normPix, indices: batch.slots.map((s) => dataset.usableSlots().indexOf(s)), paths: batch.slots.map((s) => dataset.pathOf(s)) });
  }

  // ============================================================================ evaluation

  finetune(request: FineTuneRequest, signal: AbortSignal): Promise<FineTuneResult> {
    return this.evaluation.finetune(request, signal);
  }

  embed(request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
    return this.evaluation.embed(request, signal);
  }

  probe(request: ProbeRequest, signal: AbortSignal): Promise<ProbeResult> {
    return this.evaluation.probe(request, signal);
  }

  collapse(request: CollapseRequest, signal: AbortSignal): Promise<CollapseResultView> {
    return this.evaluation.collapse(request, signal);
  }

  activationGrid(request: ActivationGridRequest, signal: AbortSignal): Promise<ActivationGridResult> {
    return this.evaluation.activationGrid(request, signal);
  }

  /** kNN tracking during pretraining: on from the next pause point (null: off). */
  private knnTracking: KnnTracking | null = null;

  setKnnTracking(tracking: KnnTracking | null): void {
    if (tracking !== null && (!Number.isInteger(tracking.every) || tracking.every < 1 || !Number.isInteger(tracking.maxImages) || tracking.maxImages < 2)) {
      throw new WorkerError('config', `kNN tracking every ${tracking.every} steps on ${tracking.maxImages} images: needs whole numbers, at least 1 step and 2 images`, 'Choose another interval or subset size.');
    }
    this.knnTracking = tracking;
  }

  /** At a pause point: the kNN probe of the encoder now. A failure turns tracking off and is reported; the run goes on. */
  private async trackKnn(step: number): Promise<void> {
    const tracking = this.knnTracking;
    if (!tracking) return;
    const runId = this.runner.runId;
    try {
      const r = await this.evaluation.trackKnn(tracking, step, new AbortController().signal);
      this.emit({ type: 'knn-track', runId, step, top1: r.top1, baselineTop1: r.baselineTop1, trainCount: r.trainCount, valCount: r.valCount, classes: r.classes.length });
    } catch (e) {
      this.knnTracking = null;
      const w = toWorkerError(e);
      this.emit({ type: 'knn-track', runId, step, error: w.suggestion ? `${w.message}. ${w.suggestion}` : w.message });
    }
  }

  // ============================================================================ checkpoints

  async saveCheckpoint(format: CheckpointFormat, signal: AbortSignal): Promise<SavedCheckpoint> {
    const kept = this.runner.restoreFrom;
    if (kept && (!this.models.model || this.models.lost)) {
      // the device is gone (and maybe not coming back): write the kept weights, no GPU needed
      return encodeCheckpoint(format, { built: this.config, current: this.config, state: kept, data: this.checkpointData() });
    }
    const asked = this.runner.submitted; // the step the person asked to save
    const model = await this.runner.ensureModel();
    const trainer = model.trainer;
    const { read, step } = await this.models.gpuLock.run(async () => {
      const encoder = trainer.engine.ctx.device.createCommandEncoder({ label: 'checkpoint' });
      const { read } = trainer.encodeStateRead(encoder, format === 'native' || format === 'official-pretrain');
      trainer.engine.ctx.device.queue.submit([encoder.finish()]);
      return { read, step: this.runner.submitted };
    });
    let state: Snapshot;
    try {
      state = { ...(await raceCancellation(this.models.untilLost(trainer.engine, read()), signal, 'saveCheckpoint')), step };
    } catch (e) {
      if (e instanceof WorkerError && e.kind === 'cancelled') throw e;
      // the read-back never came (device lost, mapping failed): nothing was written, the run goes on
      const err = await this.models.deviceAware(trainer.engine, e);
      const cause = err instanceof GpuDeviceLostError ? 'the GPU device was lost' : ((err as Error).message ?? String(err));
      throw new WorkerError('checkpoint-interrupted', `Saving the checkpoint of step ${asked} was interrupted (${cause}); no file was written`, 'The run is untouched: press Save again (after a GPU loss, once the device is back).', { step });
    }
    return encodeCheckpoint(format, { built: model.built, current: this.config, state, data: this.checkpointData() });
  }

  /** What a checkpoint records about the data it was trained on. */
  private checkpointData(): { source: string; imageCount: number } {
    return { source: this.dataset ? `${this.dataset.source}:${this.dataset.name}` : 'none', imageCount: this.dataset?.size ?? 0 };
  }

  async loadCheckpoint(bytes: Uint8Array, fileName: string, options: LoadCheckpointOptions, signal: AbortSignal): Promise<CheckpointLoadResult> {
    // Everything that can refuse the file happens before the model is touched.
    const file = openCheckpointForRun(bytes, fileName, this.config);
    const { next, report, lines } = file;
    if (file.modelChanged && this.models.model && options.allowReset === false) {
      return { applied: false, needsReset: true, report, lines, optimizerRestored: false, status: this.status() };
    }
    throwIfCancelled(signal, 'loadCheckpoint');
    await this.runner.stopLoop();
    // Tensors the file lacks keep the current weights (same model) or a fresh initialisation.
    const current = !file.modelChanged && this.models.model && !this.models.lost ? (await this.models.model.trainer.saveState(false)).params : null;
    const state = file.state(current);
    const trainer = await this.models.buildTrainer(next, state.params);
    trainer.restoreState(state);
    this.models.destroyModel();
    const inputChanged = next.inputSize !== this.config.inputSize;
    this.config = next;
    this.models.install(trainer, next);
    this.runner.newRun(state);
    if (inputChanged) await this.data.setDecodeSize(decodeSizeFor(next.inputSize));
    this.runner.setState('ready');
    return { applied: true, needsReset: false, report, lines, optimizerRestored: state.m !== null, status: this.status() };
  }

  // ============================================================================ a run handed over

  /**
   * The page's kept snapshot of a run whose worker died: this (new) worker builds its plan,
   * restores weights, moments and step, and takes the run's id, so the page's curves go on.
   */
  async restoreRun(kept: KeptSnapshot, signal: AbortSignal): Promise<WorkerStatus> {
    const c = validateTrainingConfig(kept.config);
    await this.runner.stopLoop();
    throwIfCancelled(signal, 'restoreRun');
    const trainer = await this.models.buildTrainer(c, kept.state.params);
    trainer.restoreState(kept.state);
    this.models.destroyModel();
    const inputChanged = c.inputSize !== this.config.inputSize;
    this.config = c;
    this.models.install(trainer, c);
    this.runner.newRun(kept.state);
    this.runner.runId = kept.runId;
    if (inputChanged) await this.data.setDecodeSize(decodeSizeFor(c.inputSize));
    this.runner.setState(kept.state.step > 0 ? 'paused' : 'ready');
    return this.status();
  }

  // ============================================================================ faults, dispose

  async injectFault(fault: InjectedFault): Promise<void> {
    if (fault === 'worker-crash') {
      // as abrupt as a crash: no clean-up, calls in flight never answer
      (globalThis as { close?: () => void }).close?.();
      return;
    }
    const model = await this.runner.ensureModel();
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
    throw new WorkerError('config', `unknown fault ${String(fault)}`, "Use 'device-lost', 'non-finite-weights' or 'worker-crash'.");
  }

  async dispose(): Promise<void> {
    await this.runner.stopLoop().catch(() => {});
    this.models.dispose();
    if (this.runner.metricsTimer) clearTimeout(this.runner.metricsTimer);
    await this.data.dispose();
    this.events.dispose();
  }
}
