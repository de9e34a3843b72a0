// Page side of the engine worker: starts it, wraps it with comlink, and gives every call an
// optional AbortSignal (mapped onto the worker's cancelId + cancel(), squoosh style). Large
// inputs (zip and checkpoint bytes) are transferred, not copied. Results keep their typed
// arrays (transferred by the worker). Rejections are WorkerErrors (protocol.ts isWorkerError).
import * as Comlink from 'comlink';
import { CancelIdSource } from './cancellation.ts';
import type {
  CheckpointFormat,
  CheckpointLoadResult,
  ConfigResult,
  DatasetSummary,
  EngineWorkerApi,
  FolderListing,
  GpuStatus,
  KnnTracking,
  InjectedFault,
  KeptSnapshot,
  ReconstructRequest,
  EmbedRequest,
  EmbedResult,
  ProbeRequest,
  ProbeResult,
  ActivationGridRequest,
  ActivationGridResult,
  CollapseRequest,
  CollapseResultView,
  FineTuneRequest,
  FineTuneResult,
  ReconstructionResult,
  SavedCheckpoint,
  SelfTestResult,
  StartOptions,
  StepRecord,
  Thumbnails,
  ThumbnailRequest,
  TrainingConfig,
  WorkerEvent,
  WorkerStatus,
} from './protocol.ts';

export function startEngineWorker(): { api: Comlink.Remote<EngineWorkerApi>; worker: Worker } {
  const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'fcmae-engine' });
  return { api: Comlink.wrap<EngineWorkerApi>(worker), worker };
}

export interface Cancellable {
  signal?: AbortSignal;
}

export interface ClientLoadOptions extends Cancellable {
  verify?: boolean;
  cacheBudgetBytes?: number;
}

export class EngineClient {
  private readonly ids: CancelIdSource;
  private visibilityHandler: (() => void) | null = null;

  constructor(
    readonly api: Comlink.Remote<EngineWorkerApi>,
    readonly worker: Worker,
  ) {
    this.ids = new CancelIdSource((id) => this.api.cancel(id));
  }

  static start(): EngineClient {
    const { api, worker } = startEngineWorker();
    return new EngineClient(api, worker);
  }

  private async call<T>(signal: AbortSignal | undefined, fn: (cancelId: number | undefined) => Promise<T>): Promise<T> {
    const { cancelId, dispose } = this.ids.bind(signal);
    try {
      return await fn(cancelId);
    } finally {
      dispose();
    }
  }

  init(): Promise<GpuStatus> {
    return this.api.init();
  }

  matmulSelfTest(M: number, N: number, K: number, seed?: number): Promise<SelfTestResult> {
    return this.api.matmulSelfTest(M, N, K, seed);
  }

  /** Events from the worker; resolves with a function that unsubscribes. */
  async subscribe(listener: (event: WorkerEvent) => void): Promise<() => Promise<void>> {
    const id = await this.api.subscribe(Comlink.proxy(listener));
    return () => this.api.unsubscribe(id);
  }

  /** Tell the worker when the tab is hidden (shown with the throttle state). */
  watchVisibility(doc: Document = document): void {
    if (this.visibilityHandler) return;
    this.visibilityHandler = () => void this.api.setPageVisible(doc.visibilityState === 'visible');
    doc.addEventListener('visibilitychange', this.visibilityHandler);
    this.visibilityHandler();
  }

  status(): Promise<WorkerStatus> {
    return this.api.status();
  }

  loadDemo(o: ClientLoadOptions = {}): Promise<DatasetSummary> {
    return this.call(o.signal, (cancelId) => this.api.loadDemo({ cancelId, verify: o.verify, cacheBudgetBytes: o.cacheBudgetBytes }));
  }

  loadFiles(listing: FolderListing, o: ClientLoadOptions = {}): Promise<DatasetSummary> {
    return this.call(o.signal, (cancelId) => this.api.loadFiles(listing, { cancelId, verify: o.verify, cacheBudgetBytes: o.cacheBudgetBytes }));
  }

  loadDirectory(handle: FileSystemDirectoryHandle, o: ClientLoadOptions = {}): Promise<DatasetSummary> {
    return this.call(o.signal, (cancelId) => this.api.loadDirectory(handle, { cancelId, verify: o.verify, cacheBudgetBytes: o.cacheBudgetBytes }));
  }

  /** A zip File (cloned cheaply) or bytes (transferred: the caller's array is emptied). */
  loadZip(zip: Blob | Uint8Array, name: string, o: ClientLoadOptions = {}): Promise<DatasetSummary> {
    const arg = zip instanceof Uint8Array ? Comlink.transfer(zip, [zip.buffer]) : zip;
    return this.call(o.signal, (cancelId) => this.api.loadZip(arg, name, { cancelId, verify: o.verify, cacheBudgetBytes: o.cacheBudgetBytes }));
  }

  dataset(): Promise<DatasetSummary | null> {
    return this.api.dataset();
  }

  thumbnails(request: ThumbnailRequest, o: Cancellable = {}): Promise<Thumbnails> {
    return this.call(o.signal, (cancelId) => this.api.thumbnails(request, { cancelId }));
  }

  setConfig(config: TrainingConfig, o: Cancellable & { allowReset?: boolean } = {}): Promise<ConfigResult> {
    return this.call(o.signal, (cancelId) => this.api.setConfig(config, { cancelId, allowReset: o.allowReset }));
  }

  start(o: StartOptions = {}): Promise<WorkerStatus> {
    return this.api.start(o);
  }

  pause(): Promise<WorkerStatus> {
    return this.api.pause();
  }

  resume(o: StartOptions = {}): Promise<WorkerStatus> {
    return this.api.resume(o);
  }

  step(o: Cancellable = {}): Promise<StepRecord> {
    return this.call(o.signal, (cancelId) => this.api.step({ cancelId }));
  }

  runSteps(count: number, o: Cancellable = {}): Promise<StepRecord> {
    return this.call(o.signal, (cancelId) => this.api.runSteps(count, { cancelId }));
  }

  reset(o: Cancellable & { seed?: number } = {}): Promise<WorkerStatus> {
    return this.call(o.signal, (cancelId) => this.api.reset({ cancelId, seed: o.seed }));
  }

  reconstruct(request: Omit<ReconstructRequest, 'cancelId'> & Cancellable = {}): Promise<ReconstructionResult> {
    const { signal, ...rest } = request;
    return this.call(signal, (cancelId) => this.api.reconstruct({ ...rest, cancelId }));
  }

  /** Fine-tunes the encoder (or a random one) on labelled images; progress arrives as 'evaluation' events. */
  finetune(request: Omit<FineTuneRequest, 'cancelId'> & Cancellable): Promise<FineTuneResult> {
    const { signal, ...rest } = request;
    return this.call(signal, (cancelId) => this.api.finetune({ ...rest, cancelId }));
  }

  /** Features of labelled images through the encoder (or a random one). */
  embed(request: Omit<EmbedRequest, 'cancelId'> & Cancellable): Promise<EmbedResult> {
    const { signal, ...rest } = request;
    return this.call(signal, (cancelId) => this.api.embed({ ...rest, cancelId }));
  }

  /** kNN or linear probe of the frozen features, with the random-init baseline beside. */
  probe(request: Omit<ProbeRequest, 'cancelId'> & Cancellable): Promise<ProbeResult> {
    const { signal, ...rest } = request;
    return this.call(signal, (cancelId) => this.api.probe({ ...rest, cancelId }));
  }

  /** The feature-collapse curve per block, with the random-init curve beside. */
  collapse(request: Omit<CollapseRequest, 'cancelId'> & Cancellable): Promise<CollapseResultView> {
    const { signal, ...rest } = request;
    return this.call(signal, (cancelId) => this.api.collapse({ ...rest, cancelId }));
  }

  /** The activation grid of one block and image, with the random-init grid beside. */
  activationGrid(request: Omit<ActivationGridRequest, 'cancelId'> & Cancellable): Promise<ActivationGridResult> {
    const { signal, ...rest } = request;
    return this.call(signal, (cancelId) => this.api.activationGrid({ ...rest, cancelId }));
  }

  /** kNN tracking during pretraining (null: off); results arrive as 'knn-track' events. */
  setKnnTracking(tracking: KnnTracking | null): Promise<void> {
    return this.api.setKnnTracking(tracking);
  }

  saveCheckpoint(format: CheckpointFormat, o: Cancellable = {}): Promise<SavedCheckpoint> {
    return this.call(o.signal, (cancelId) => this.api.saveCheckpoint(format, { cancelId }));
  }

  /** The bytes are transferred (the caller's array is emptied). */
  loadCheckpoint(bytes: Uint8Array, fileName: string, o: Cancellable & { allowReset?: boolean } = {}): Promise<CheckpointLoadResult> {
    return this.call(o.signal, (cancelId) => this.api.loadCheckpoint(Comlink.transfer(bytes, [bytes.buffer]), fileName, { cancelId, allowReset: o.allowReset }));
  }

  /** A new worker takes over the run the page kept (after the old one died). */
  restoreRun(snapshot: KeptSnapshot): Promise<WorkerStatus> {
    return this.api.restoreRun(snapshot); // copied, not transferred: the page keeps it for another restart
  }

  injectFault(fault: InjectedFault): Promise<void> {
    return this.api.injectFault(fault);
  }

  /** Frees the GPU, then ends the worker. */
  async dispose(): Promise<void> {
    if (this.visibilityHandler) document.removeEventListener('visibilitychange', this.visibilityHandler);
    try {
      await this.api.dispose();
    } finally {
      this.api[Comlink.releaseProxy]();
      this.worker.terminate();
    }
  }
}
