// The page's side of the engine worker: turns store changes into worker calls (settings →
// setConfig, debounced; transport buttons; reconstructions; checkpoints; sweeps) and worker
// events into store updates (status, dataset, progress) and chart data (metrics → liveMetrics).
// The only module that talks to the worker; components call it through BridgeContext.
//
// Surprises:
// - A settings change that would start a new run (model, input size, seed) is applied at once
//   while nothing has been trained; after that the user is asked first (pendingReset).
// - Reconstructions are requested for the view's own mask ratio and seed; while training runs,
//   one is taken every SNAPSHOT_INTERVAL_MS and kept as a snapshot for the step slider.
// - Metrics carry the worker's runId: a batch of a newer run clears the curves first.
// - A worker that dies is noticed (worker-watchdog.ts) and replaced by a new one holding the same
//   data, settings, weights and run id (worker-restart.ts); the page keeps what that needs.
// - Evaluations (probes, fine-tuning, feature collapse) run one at a time; the worker pauses
//   pretraining for them and resumes it afterwards, so the page only shows their progress.
// - kNN tracking is the worker's (it pauses its own loop at the tracked steps): the page sends
//   the settings (setKnnTracking) when they change and when a data set loads, and draws the
//   'knn-track' events. A sweep run ends with its chosen evaluation (evaluation-runner.ts).
import { settingsFromConfig, trainingConfigOf } from '../store/engine-config.ts';
import type { RunRecord } from '../store/run-history.ts';
import type { LiveMetrics } from '../store/live-metrics.ts';
import type { EvaluationKind } from '../store/evaluation-slice.ts';
import type { AccuracyKind } from '../store/run-evaluation.ts';
import { sweepRunSettings, sweepVariants } from '../store/sweep-plan.ts';
import type { AppStore } from '../store/store.ts';
import type { Settings } from '../store/settings.ts';
import { runStatusOf } from '../store/training-slice.ts';
import type { EngineClient } from '../worker/client.ts';
import {
  isWorkerError,
  type CheckpointFormat,
  type DatasetSummary,
  type FolderListing,
  type KeptSnapshot,
  type MetricsBatch,
  type ReconstructionResult,
  type Thumbnails,
  type TrainingConfig,
  type WorkerEvent,
  type WorkerStatus,
} from '../worker/protocol.ts';
import { EvaluationRunner, evaluationDataOf } from './evaluation-runner.ts';
import { RunRecorder } from './run-recorder.ts';
import type { UserChoices } from './user-choices.ts';
import { WorkerWatchdog } from './worker-watchdog.ts';
import { restartEngine, type DataSource } from './worker-restart.ts';
import { isCancelled, messageOf } from './error-message.ts';

/** Time between training-time reconstruction snapshots. */
export const SNAPSHOT_INTERVAL_MS = 3000;
/** Settings typed in quick succession are sent once. */
const CONFIG_DEBOUNCE_MS = 150;

/** Settings the worker does not take: changing them must not touch the run. */
const VIEW_KEYS: readonly (keyof Settings)[] = ['viewMaskRatio', 'viewMaskSeed', 'smoothing', 'logScale', 'sweepRatios', 'sweepSteps', 'sweepAxis', 'sweepValues', 'sweepEval', 'knnEvery', 'evalSubset', 'evalData'];

export class EngineBridge {
  private configTimer: ReturnType<typeof setTimeout> | null = null;
  private configInFlight: Promise<void> | null = null;
  /** The config the worker holds (last applied). */
  private applied: TrainingConfig | null = null;
  private reconAbort: AbortController | null = null;
  private snapshotTimer: ReturnType<typeof setInterval> | null = null;
  private snapshotBusy = false;
  private sweepAbort: AbortController | null = null;
  private lastStatus: WorkerStatus | null = null;
  private unsubscribeStore: (() => void) | null = null;
  private readonly evaluations: EvaluationRunner;
  private readonly runs: RunRecorder;
  private readonly unsubscribeTracking: () => void;

  /** The latest known-good weights the worker sent: a new worker continues from them. */
  kept: KeptSnapshot | null = null;
  /** Where the data set came from: a new worker loads it again. */
  dataSource: DataSource | null = null;
  private readonly watchdog = new WorkerWatchdog(
    () => this.client.status(),
    (why) => void restartEngine(this, why),
  );

  constructor(
    public client: EngineClient,
    readonly store: AppStore,
    private readonly live: LiveMetrics,
  ) {
    this.evaluations = new EvaluationRunner(() => this.client, store);
    this.runs = new RunRecorder(store, live);
    // kNN tracking follows its settings and the data set (whose class folders it measures when
    // there are two or more); the first data set loads before any run can start
    let trackingKey = '';
    this.unsubscribeTracking = store.subscribe((s) => {
      const key = JSON.stringify([s.settings.knnEvery, s.settings.evalSubset, evaluationDataOf(store)]);
      if (key === trackingKey) return;
      trackingKey = key;
      void this.syncKnnTracking();
    });
  }

  private get state() {
    return this.store.getState();
  }

  // ------------------------------------------------------------------ start-up

  /**
   * After init() succeeded: events, run history, the settings, then what the user handed over
   * meanwhile (`choices`, queued until now) or else the demo set, and a first reconstruction.
   */
  async connect(choices?: UserChoices): Promise<void> {
    await this.attach(this.client);
    void this.runs.open();
    let prev = this.state.settings;
    this.unsubscribeStore = this.store.subscribe((s) => {
      if (s.settings === prev) return;
      const before = prev;
      prev = s.settings;
      this.onSettingsChanged(before, s.settings);
    });
    // the page's settings (from the URL) before anything builds a model, then the user's
    // choices or the demo set
    await this.applySettingsNow();
    choices?.openTo(this);
    if (!choices?.dataChosen) await this.loadDemo({ automatic: true }); // reconstructs once loaded
  }

  /** Listen to `client`'s events and watch its worker (start-up, and a restarted worker). */
  async attach(client: EngineClient): Promise<void> {
    await client.subscribe((e: WorkerEvent) => this.onEvent(e));
    client.watchVisibility();
    this.watchdog.start(client.worker);
    // a restarted worker knows nothing of kNN tracking yet (at start-up this repeats the store's own sync)
    if (this.state.settings.knnEvery > 0) void this.syncKnnTracking();
  }

  dispose(): void {
    this.watchdog.stop();
    this.unsubscribeStore?.();
    this.unsubscribeTracking();
    this.stopSnapshots();
  }

  // ------------------------------------------------------------------ events

  private onEvent(e: WorkerEvent): void {
    switch (e.type) {
      case 'status':
        this.onStatus(e.status);
        break;
      case 'metrics':
        this.onMetrics(e.batch);
        break;
      case 'dataset':
        // while a new set loads, news of the one it replaces would mark the load finished
        if (this.state.dataStatus === 'loading') break;
        this.state.setDataset(e.summary);
        break;
      case 'progress':
        // while a new set loads, the current one's background decoding is not its progress
        if (e.task === 'decode' && this.state.dataStatus === 'loading') break;
        this.state.setDataProgress(e);
        break;
      case 'evaluation':
        this.state.setEvaluationProgress(e);
        break;
      case 'knn-track':
        this.state.addKnnTrack(e);
        break;
      case 'snapshot':
        this.kept = e.snapshot;
        break;
    }
  }

  onStatus(status: WorkerStatus): void {
    const prev = this.lastStatus;
    this.lastStatus = status;
    const s = this.state;
    if (status.runId !== s.run.runId) this.newRun(status.runId);
    if (status.plan) s.setPlan(status.plan);
    s.setThrottled(status.throttle.throttled);
    if (status.error) {
      s.setRunError({ message: status.error.message, advice: status.error.suggestion, canContinue: status.error.canContinue, continuesFrom: status.error.restoredStep });
      // the curves keep every point up to the step the run continues from
      this.live.truncateAfter(status.error.restoredStep);
      // the GPU went away: the browser may have dropped drawn pixels too, redraw them from the store
      if (status.error.kind === 'device-lost') s.redrawAll();
    } else {
      const st = runStatusOf(status.state);
      if (st !== s.run.status || s.run.activity) s.setRunStatus(st);
    }
    if (status.step < this.live.lastStep) this.live.truncateAfter(status.step);
    // a loaded checkpoint (or restored weights) sets the step without any metrics
    if (this.live.lastStep <= status.step && s.run.step !== status.step) s.setRunStep(status.step, status.lastLoss);
    if (status.state === 'running') this.startSnapshots();
    else this.stopSnapshots();
    // the run stopped (pause, finish, error): show what the weights do now; a run the user
    // trained to its end goes into the history (sweeps record their own runs)
    if (prev?.state === 'running' && status.state !== 'running' && status.state !== 'pausing') {
      const finished = status.state === 'finished' && s.sweep.status !== 'running';
      void this.reconstructView(true).then((recon) => {
        if (finished) void this.recordRun(this.state.settings, recon);
      });
    }
  }

  private newRun(runId: number): void {
    const s = this.state;
    this.live.reset();
    s.resetRun(s.settings.totalSteps);
    s.setRunId(runId);
    s.clearRecon();
    s.clearKnnTrack(runId);
  }

  private onMetrics(b: MetricsBatch): void {
    if (b.runId < this.state.run.runId) return; // a late batch of a run already replaced
    if (b.runId > this.state.run.runId) this.newRun(b.runId);
    const points = [];
    const last = this.live.lastStep;
    for (let i = 0; i < b.count; i++) {
      if (b.step[i]! <= last) continue;
      points.push({ step: b.step[i]!, loss: b.loss[i]!, lr: b.lr[i]!, imagesPerSec: b.imagesPerSec[i]!, stepMs: b.stepMs[i]!, wallMs: b.wallMs[i]! });
    }
    this.live.push(points);
  }

  // ------------------------------------------------------------------ settings

  private onSettingsChanged(before: Settings, after: Settings): void {
    const changed = (Object.keys(after) as (keyof Settings)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (changed.some((k) => !VIEW_KEYS.includes(k))) this.scheduleConfig();
    if (changed.includes('viewMaskRatio') || changed.includes('viewMaskSeed')) void this.reconstructView();
    if (changed.includes('totalSteps')) this.state.setTotalSteps(after.totalSteps);
  }

  private scheduleConfig(): void {
    if (this.configTimer) clearTimeout(this.configTimer);
    this.configTimer = setTimeout(() => {
      this.configTimer = null;
      void this.applySettingsNow();
    }, CONFIG_DEBOUNCE_MS);
  }

  /** Send pending settings now (before Start/Step) and wait for the worker to take them. */
  async flushConfig(): Promise<void> {
    if (this.configTimer) {
      clearTimeout(this.configTimer);
      this.configTimer = null;
      await this.applySettingsNow();
    }
    while (this.configInFlight) await this.configInFlight;
  }

  private async applySettingsNow(allowReset?: boolean): Promise<void> {
    while (this.configInFlight) await this.configInFlight;
    const run = async () => {
      const s = this.state;
      const config = trainingConfigOf(s.settings);
      try {
        const nothingTrained = s.run.step === 0;
        const result = await this.client.setConfig(config, { allowReset: allowReset ?? nothingTrained });
        s.setPlan(result.plan);
        if (!result.applied && result.needsReset) {
          s.setPendingReset({ reasons: result.resetReasons });
          return;
        }
        this.applied = config;
        s.setPendingReset(null);
        s.setConfigError(null);
        if (result.rebuilt || result.level === 'reset') void this.reconstructView();
      } catch (e) {
        s.setConfigError(messageOf(e));
      }
    };
    this.configInFlight = run();
    try {
      await this.configInFlight;
    } finally {
      this.configInFlight = null;
    }
  }

  /** The user's answer to "this change starts a new run". */
  async confirmReset(accept: boolean): Promise<void> {
    if (accept) {
      await this.applySettingsNow(true);
      return;
    }
    // keep the run: put the worker's settings back into the page
    const config = this.applied ?? this.lastStatus?.config;
    if (config) this.state.replaceSettings(settingsFromConfig(this.state.settings, config));
    this.state.setPendingReset(null);
  }

  // ------------------------------------------------------------------ transport

  async start(): Promise<void> {
    const s = this.state;
    await this.flushConfig();
    if (s.pendingReset) return;
    s.setRunStatus('preparing', s.run.step === 0 ? 'Building the model and compiling kernels…' : 'Resuming…');
    try {
      const status = await this.client.start();
      this.onStatus(status);
    } catch (e) {
      this.failed(e);
    }
  }

  /**
   * Decoder warm-up for the loaded encoder: freeze the encoder (a rebuild that keeps the loaded
   * weights and the step) and start training; the Training panel's toggle turns it off again.
   */
  async trainDecoder(): Promise<void> {
    const s = this.state;
    s.setSetting('freezeEncoder', true);
    await this.start(); // start() sends the changed setting first
  }

  async pause(): Promise<void> {
    try {
      this.onStatus(await this.client.pause());
    } catch (e) {
      this.failed(e);
    }
  }

  async step(): Promise<void> {
    const s = this.state;
    await this.flushConfig();
    if (s.pendingReset) return;
    s.setRunStatus('preparing', 'One step…');
    try {
      await this.client.step();
      this.onStatus(await this.client.status());
      await this.reconstructView(true);
    } catch (e) {
      this.failed(e);
    }
  }

  async reset(): Promise<void> {
    try {
      await this.flushConfig();
      if (this.state.pendingReset) {
        await this.confirmReset(true);
      }
      this.onStatus(await this.client.reset());
      await this.reconstructView();
    } catch (e) {
      this.failed(e);
    }
  }

  private failed(e: unknown): void {
    if (isCancelled(e)) return;
    const s = this.state;
    s.setRunError({ message: isWorkerError(e) ? e.message : messageOf(e), advice: isWorkerError(e) ? e.suggestion : undefined, canContinue: true });
  }

  // ------------------------------------------------------------------ reconstructions

  /** Re-run the current weights on the evaluation batch at the view's mask ratio and seed. */
  async reconstructView(asSnapshot = false): Promise<ReconstructionResult | null> {
    const s = this.state;
    if (!s.dataset) return null;
    this.reconAbort?.abort();
    const abort = new AbortController();
    this.reconAbort = abort;
    s.setReconPending(true);
    try {
      const r = await this.client.reconstruct({ maskRatio: s.settings.viewMaskRatio, seed: s.settings.viewMaskSeed, signal: abort.signal });
      if (r.runId < this.state.run.runId) return null;
      this.state.setLiveRecon(r, asSnapshot && r.step > 0);
      return r;
    } catch (e) {
      // a device lost meanwhile: the run's message says so, the kept pictures stay
      if (!isCancelled(e) && !(isWorkerError(e) && e.kind === 'device-lost')) this.state.setReconError(messageOf(e));
      return null;
    } finally {
      if (this.reconAbort === abort) this.reconAbort = null;
    }
  }

  /** "New mask": another seed for the view's mask. */
  newMask(): void {
    const s = this.state;
    s.setSetting('viewMaskSeed', (s.settings.viewMaskSeed % 4_000_000_000) + 1);
  }

  private startSnapshots(): void {
    if (this.snapshotTimer) return;
    this.snapshotTimer = setInterval(() => {
      if (this.snapshotBusy) return;
      this.snapshotBusy = true;
      void this.reconstructView(true).finally(() => {
        this.snapshotBusy = false;
      });
    }, SNAPSHOT_INTERVAL_MS);
  }

  private stopSnapshots(): void {
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.snapshotTimer = null;
  }

  // ------------------------------------------------------------------ data

  /**
   * The demo set. `automatic`: the page's own start-up choice, which never replaces or cancels
   * a data set the user handed over (it is skipped once the user chose one).
   */
  async loadDemo(options: { automatic?: boolean } = {}): Promise<void> {
    if (options.automatic && this.userDataChosen) return;
    await this.loadWith('Loading the demo photos…', (signal) => this.client.loadDemo({ signal }), { kind: 'demo' }, !options.automatic);
  }

  async loadListing(listing: FolderListing): Promise<void> {
    await this.loadWith(`Reading ${listing.name}…`, (signal) => this.client.loadFiles(listing, { signal }), { kind: 'files', listing });
  }

  async loadDirectoryHandle(handle: FileSystemDirectoryHandle): Promise<void> {
    await this.loadWith(`Reading ${handle.name}…`, (signal) => this.client.loadDirectory(handle, { signal }), { kind: 'directory', handle });
  }

  async loadZip(file: File): Promise<void> {
    await this.loadWith(`Unpacking ${file.name}…`, (signal) => this.client.loadZip(file, file.name, { signal }), { kind: 'zip', file });
  }

  private dataAbort: AbortController | null = null;
  /** The user loaded a data set (the page then loads none on its own). */
  private userDataChosen = false;

  /** Load a dataset (a newer load cancels an older one still running). */
  private async loadWith(message: string, load: (signal: AbortSignal) => Promise<DatasetSummary>, source: DataSource, byUser = true): Promise<void> {
    const s = this.state;
    if (byUser) this.userDataChosen = true;
    this.dataAbort?.abort();
    const abort = new AbortController();
    this.dataAbort = abort;
    s.setDataLoading(message);
    try {
      const summary = await load(abort.signal);
      // a newer load took over while this one finished: its result is not what the user sees
      if (abort.signal.aborted) return;
      s.setDataset(summary);
      this.dataSource = source;
      await this.reconstructView();
    } catch (e) {
      if (!isCancelled(e) && !abort.signal.aborted) s.setDataError(messageOf(e));
    } finally {
      if (this.dataAbort === abort) this.dataAbort = null;
    }
  }

  thumbnails(indices: number[], size: number): Promise<Thumbnails> {
    return this.client.thumbnails({ indices, size });
  }

  // ------------------------------------------------------------------ checkpoints

  async saveCheckpoint(format: CheckpointFormat): Promise<{ bytes: Uint8Array; fileName: string; mimeType: string } | null> {
    const s = this.state;
    try {
      const saved = await this.client.saveCheckpoint(format);
      s.setCheckpointReport({
        ok: true,
        title: `Saved ${saved.fileName} (step ${saved.step})`,
        lines: saved.skipped.length ? [`Not in this format: ${saved.skipped.length} tensors (${saved.skipped.slice(0, 3).join(', ')}${saved.skipped.length > 3 ? ', …' : ''})`] : [],
      });
      return saved;
    } catch (e) {
      const interrupted = isWorkerError(e) && e.kind === 'checkpoint-interrupted';
      s.setCheckpointReport({ ok: false, title: interrupted ? 'Saving was interrupted: nothing was downloaded, the run is untouched' : 'Saving failed', lines: [messageOf(e)] });
      return null;
    }
  }

  async loadCheckpoint(file: File): Promise<void> {
    const s = this.state;
    s.setCheckpointReport({ ok: true, title: `Reading ${file.name}…`, lines: [] });
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const result = await this.client.loadCheckpoint(bytes, file.name, { allowReset: true });
      this.applied = result.status.config;
      s.replaceSettings(settingsFromConfig(s.settings, result.status.config));
      this.onStatus(result.status);
      s.setCheckpointReport({
        ok: result.applied,
        title: result.applied ? `Loaded ${file.name} at step ${result.status.step}${result.optimizerRestored ? ' (optimizer state restored)' : ''}` : `${file.name} was not applied`,
        lines: result.lines,
        encoderOnly: result.applied && !result.report.decoderInFile,
      });
      await this.reconstructView();
    } catch (e) {
      s.setCheckpointReport({ ok: false, title: `${file.name} was refused`, lines: [messageOf(e)] });
    }
  }

  // ------------------------------------------------------------------ experiments

  /**
   * Train one fresh run per mask ratio (same seed, data and other settings), recording each
   * in the history with its curve and its reconstructions at the common evaluation ratio.
   */
  async runSweep(): Promise<void> {
    const s = this.state;
    const userSettings = s.settings;
    const variants = sweepVariants(userSettings);
    const ratios = variants.map((v) => sweepRunSettings(userSettings, v).maskRatio);
    const steps = s.settings.sweepSteps;
    const judge = userSettings.sweepEval;
    const sweepId = `sweep-${Date.now().toString(36)}`;
    s.setSweep({ status: 'running', sweepId, ratios, names: variants.map((v) => v.name), evaluation: judge, phase: 'training', steps, index: 0, runIds: [], error: null, evalMaskRatio: s.settings.viewMaskRatio });
    try {
      await this.flushConfig();
      if (this.state.run.status === 'running') await this.client.pause();
      for (let i = 0; i < variants.length; i++) {
        this.state.setSweep({ index: i, phase: 'training' });
        const runSettings = sweepRunSettings(userSettings, variants[i]!);
        const config: TrainingConfig = trainingConfigOf(runSettings);
        await this.client.setConfig(config, { allowReset: true });
        this.onStatus(await this.client.reset());
        const abort = new AbortController();
        this.sweepAbort = abort;
        this.state.setRunStatus('running');
        await this.client.runSteps(steps, { signal: abort.signal });
        // the metrics of the last steps may still be in flight: wait for them
        await this.waitForStep(steps);
        if (judge !== 'none') {
          this.state.setSweep({ phase: 'evaluating' });
          await this.evaluations.forSweep(judge, abort.signal);
        }
        this.sweepAbort = null;
        // its own request: a view reconstruction started meanwhile must not cancel this one
        const recon = await this.client.reconstruct({ maskRatio: userSettings.viewMaskRatio, seed: userSettings.viewMaskSeed });
        this.state.setLiveRecon(recon, true);
        const record = await this.recordRun(runSettings, recon, sweepId, variants[i]!.name, judge === 'none' ? undefined : judge);
        this.state.setSweep({ runIds: [...this.state.sweep.runIds, record.id] });
      }
      this.state.setSweep({ status: 'finished' });
      this.state.setCompare(this.state.sweep.runIds);
    } catch (e) {
      this.sweepAbort = null;
      this.state.setSweep({ status: isCancelled(e) ? 'cancelled' : 'failed', error: isCancelled(e) ? null : messageOf(e) });
    } finally {
      // back to the user's own settings (a rebuild keeps the last run's weights)
      this.applied = null;
      await this.applySettingsNow(true);
      this.onStatus(await this.client.status());
    }
  }

  cancelSweep(): void {
    this.sweepAbort?.abort();
  }

  private async waitForStep(step: number, timeoutMs = 5000): Promise<void> {
    const t0 = performance.now();
    while (this.live.lastStep < step && performance.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 50));
  }

  /** Save the current run (settings, curve, reconstructions, evaluations) in the history. */
  recordRun(settings: Settings, recon: ReconstructionResult | null, sweepId?: string, name?: string, judgedBy?: AccuracyKind): Promise<RunRecord> {
    return this.runs.record(settings, recon, sweepId, name, judgedBy);
  }

  deleteRun(id: string): Promise<void> {
    return this.runs.delete(id);
  }

  // ------------------------------------------------------------------ evaluation

  /** The Evaluation panel's buttons (evaluation-runner.ts): the current encoder on the chosen labelled images. */
  runEvaluation(kind: EvaluationKind): Promise<void> {
    return this.evaluations.run(kind);
  }

  cancelEvaluation(): void {
    this.evaluations.cancel();
  }

  /** kNN tracking as the settings say (every N steps, on the evaluation subset); 0 turns it off. */
  private async syncKnnTracking(): Promise<void> {
    const s = this.state.settings;
    try {
      await this.client.setKnnTracking(s.knnEvery > 0 ? { every: s.knnEvery, data: evaluationDataOf(this.store), maxImages: s.evalSubset } : null);
    } catch (e) {
      this.state.addKnnTrack({ type: 'knn-track', runId: this.state.run.runId, step: this.state.run.step, error: messageOf(e) });
    }
  }
}
