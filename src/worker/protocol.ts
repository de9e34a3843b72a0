// The contract between the page and the engine worker. The page imports only these types (and
// the pure helpers of client.ts) and talks to the worker through comlink; it never touches the
// GPU. Everything crossing the boundary is structured-cloneable; large arrays are transferred.
//
// How to drive it (page side, see client.ts for the AbortSignal wrapper):
//   const client = EngineClient.start();
//   await client.init();                                   // GpuStatus
//   await client.subscribe((e) => ...);                    // metrics / status / dataset / progress
//   await client.loadDemo();                               // or loadFiles(listing) / loadZip(file)
//   await client.setConfig(config);                        // ConfigResult: plan info, needsReset?
//   await client.start();                                  // loop runs in the worker
//   await client.reconstruct({ maskRatio: 0.75, seed: 3 }); // panels, at any time
//   await client.pause();
//
// Run lifecycle (WorkerStatus.state):
//   'idle'      no model built yet (the first call that needs one builds the current config)
//   'ready'     a model is built and the loop has not run since it was (re)built or reset
//   'running'   the loop is submitting steps (≤ 2 in flight)
//   'pausing'   pause requested, in-flight steps draining
//   'paused'    stopped between steps; start/resume continue, step() does one step
//   'finished'  the loop reached its target step (totalSteps, or runSteps' target)
//   'error'     a run error stopped the loop (status.error says why); the last good weights are
//               in the model; start/resume/step continue from status.step
// Steps are 1-based: step k is the k-th optimizer update; its loss is computed before update k.
// `runId` increases on reset() and on loading a checkpoint: metrics of different runs never mix.
// After an error with restoredStep < the last reported step, the UI should drop curve points
// above restoredStep (those updates were undone).
//
// Which config changes need what (setConfig, see training-config.ts classifyChange):
//   live (next step):               blr, warmupSteps, totalSteps, minLr, evalImages
//   rebuild, run kept (weights, AdamW moments and step carried over, next step):
//                                   maskRatio, batchSize, grnMode, gelu, normPix, denseEncoder,
//                                   weightDecay, beta1, beta2, eps
//   reset (new run; refused unless allowReset, so the UI can ask first):
//                                   depths, dims, decoderDim, decoderDepth, grn, inputSize, seed
//
// Cancellation: every method whose options take `cancelId` can be cancelled with
// cancel(cancelId) (client.ts maps an AbortSignal onto it). A cancelled call rejects with a
// WorkerError of kind 'cancelled' and leaves the state as it was before the call (a cancelled
// runSteps pauses the loop after the in-flight steps).
//
// Errors: methods reject with an Error whose `name` is 'WorkerError' and which carries `kind`,
// `suggestion` and optional `details` (see WorkerErrorShape / isWorkerError). Run errors that
// stop the loop arrive as status events (status.error: RunError) and also reject runSteps/step.
import type { AdapterSummary } from '../gpu/device.ts';
import type { WebGpuUnavailableReason } from '../gpu/errors.ts';
import type { ConfigChangeLevel, RunConfig } from '../train/run-config.ts';
import type { LoadReport } from '../io/name-schemes.ts';
import type { TrainerState } from '../train/trainer.ts';
import type { SkipCode, SkippedFile } from '../data/indexing.ts';
import type { DatasetFile, FolderListing } from '../data/browser-folder.ts';
import type { DatasetSummary } from '../data/dataset-summary.ts';

export type { DatasetFile, FolderListing, SkippedFile, SkipCode, LoadReport };
import type { ActivationGridRequest, ActivationGridResult, CollapseRequest, CollapseResultView, EmbedRequest, EmbedResult, EvaluationProgressEvent, FineTuneRequest, FineTuneResult, KnnTrackEvent, KnnTracking, ProbeRequest, ProbeResult } from './evaluation-protocol.ts';
export type * from './evaluation-protocol.ts';
export type { CacheStats, DatasetSource, DatasetSummary } from '../data/dataset-summary.ts';

// ---------------------------------------------------------------------------------- GPU

export type GpuStatus =
  | { ok: true; adapter: AdapterSummary; label: string }
  | { ok: false; reason: WebGpuUnavailableReason | 'error'; message: string; advice: string };

export interface SelfTestResult {
  ok: boolean;
  /** Largest |GPU − float64 reference| over the product. */
  maxDiff: number;
  M: number;
  N: number;
  K: number;
  /** Wall time of the GPU run including readback, milliseconds. */
  ms: number;
}

// ---------------------------------------------------------------------------------- errors

export type WorkerErrorKind =
  | 'cancelled' // the call was cancelled; nothing changed
  | 'no-gpu' // init() failed or was not called
  | 'device-lost' // the GPU device was lost; start/resume re-creates it and restores weights
  | 'out-of-memory' // a buffer could not be allocated (batch or model too large for this GPU)
  | 'too-large' // refused before allocating: a buffer exceeds the adapter's per-buffer limit
  | 'non-finite-loss' // NaN/Inf loss: the last good weights were restored
  | 'decode-storm' // too many images failed to decode in a row
  | 'no-dataset' // nothing to train on (no dataset loaded, or every image failed)
  | 'config' // an invalid setting (details.field names it)
  | 'busy' // the call needs the loop paused (e.g. step() while running)
  | 'bad-checkpoint' // a checkpoint file was refused; the model is untouched
  | 'checkpoint-interrupted' // saving a checkpoint was cut short (device lost, read failed); the run is untouched, save again
  | 'gpu-error' // a WebGPU validation/internal error while running our commands
  | 'disposed' // dispose() was called
  | 'internal'; // a bug: the message says where

/** What a rejected call carries across the worker boundary (an Error with these fields). */
export interface WorkerErrorShape {
  name: 'WorkerError';
  kind: WorkerErrorKind;
  message: string;
  /** One sentence the user can act on. */
  suggestion: string;
  details?: Record<string, unknown>;
}

/** Thrown inside the worker; arrives on the page as an Error with the same fields. */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
  constructor(
    readonly kind: WorkerErrorKind,
    message: string,
    readonly suggestion: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function isWorkerError(e: unknown): e is WorkerErrorShape & Error {
  return e instanceof Error && e.name === 'WorkerError' && typeof (e as { kind?: unknown }).kind === 'string';
}

/** Why the loop stopped on its own (status.error). */
export interface RunError {
  kind: WorkerErrorKind;
  message: string;
  suggestion: string;
  /** The step that failed (its loss was bad or its submission failed). */
  step: number;
  /** The step whose weights the model now holds (the last good snapshot). */
  restoredStep: number;
  /** Whether start/resume/step can continue (false only for 'no-dataset' until data is loaded). */
  canContinue: boolean;
}

// ---------------------------------------------------------------------------------- dataset

// DatasetSource, DatasetSummary and CacheStats live in src/data/dataset-summary.ts (the data
// layer produces them); re-exported above for the worker's clients.

export interface LoadOptions {
  cancelId?: number;
  /** Resolve only after every image was decoded once (so decode failures are counted). */
  verify?: boolean;
  /** Memory budget of the decoded-pixel cache, bytes (default from navigator.deviceMemory);
   *  beyond it entries spill to OPFS. */
  cacheBudgetBytes?: number;
}

/** Square thumbnails (RGBA) of dataset images, for a virtualised strip. */
export interface ThumbnailRequest {
  /** Image positions (0 … images − 1, in DatasetSummary order: sorted by path). */
  indices: number[];
  /** Side in pixels (≤ 256). */
  size: number;
}

/** Centre-cropped squares; an image that fails to decode comes back fully transparent. */
export interface Thumbnails {
  size: number;
  indices: number[];
  paths: string[];
  /** (count, size, size, 4) RGBA, transferred. */
  rgba: Uint8ClampedArray;
}

// ---------------------------------------------------------------------------------- config

/** One flat object, aligned with the UI's Settings (src/store/settings.ts) minus view knobs. */
/** The run configuration as the worker API takes it (src/train/run-config.ts owns it). */
export type TrainingConfig = RunConfig;

export interface PlanInfo {
  paramCount: number;
  encoderParamCount: number;
  /** Multiply-accumulates per image of one forward pass (fvcore convention). */
  forwardMacsPerImage: number;
  /** Forward + backward, about 3× forward. */
  trainMacsPerImage: number;
  /** Estimated GPU bytes of the training plan (src/train/estimates.ts). */
  bytesEstimate: number;
  /** Bytes the built plan actually allocated (null when not built). */
  bytesAllocated: number | null;
  largestBufferBytes: number;
  largestBufferName: string;
  /** Patches per image L and visible patches V (floor(L·(1 − maskRatio))). */
  patches: number;
  visiblePatches: number;
  /** The mask ratio actually used: 1 − V/L. */
  effectiveMaskRatio: number;
  /** Peak learning rate blr·batch/256. */
  peakLr: number;
}


export interface SetConfigOptions {
  cancelId?: number;
  /** Allow changes that start a new run (model or input size, seed). Default false. */
  allowReset?: boolean;
}

export interface ConfigResult {
  /** False when the change needs a reset and allowReset was not given: nothing changed. */
  applied: boolean;
  level: ConfigChangeLevel;
  needsReset: boolean;
  /** Human-readable, one per changed setting that needs a reset (e.g. 'inputSize 64 → 96'). */
  resetReasons: string[];
  /** Settings that changed, by key. */
  changed: (keyof TrainingConfig)[];
  /** True when a new plan was built by this call. */
  rebuilt: boolean;
  plan: PlanInfo;
  status: WorkerStatus;
}

// ---------------------------------------------------------------------------------- run

export type RunState = 'idle' | 'ready' | 'running' | 'pausing' | 'paused' | 'finished' | 'error';

export interface ThrottleState {
  /** True while steps arrive much later than their GPU time explains. */
  throttled: boolean;
  /** Typical (gap between steps) / (step time + data wait), ≥ 1. */
  factor: number;
  /** What the page last said about its visibility (setPageVisible). */
  pageVisible: boolean;
}

export interface WorkerStatus {
  state: RunState;
  /** Steps completed (loss read back) in this run. */
  step: number;
  runId: number;
  /** Where the loop stops on its own (totalSteps, or runSteps' target); null = no limit. */
  targetStep: number | null;
  lastLoss: number | null;
  error: RunError | null;
  throttle: ThrottleState;
  config: TrainingConfig;
  plan: PlanInfo | null;
  hasDataset: boolean;
}

export interface StepRecord {
  runId: number;
  step: number;
  loss: number;
  lr: number;
  /** GPU-bound time of this step (from the later of its submission and the previous step's end). */
  stepMs: number;
  /** Images per second over the gap between this step's end and the previous one's. */
  imagesPerSec: number;
  /** Milliseconds since the run's first step was submitted. */
  wallMs: number;
}

/**
 * Metrics of several steps (at most ~4 batches per second), columns as typed arrays whose
 * buffers are transferred. Row i describes step[i].
 */
export interface MetricsBatch {
  runId: number;
  count: number;
  step: Uint32Array;
  loss: Float32Array;
  lr: Float32Array;
  imagesPerSec: Float32Array;
  stepMs: Float32Array;
  wallMs: Float64Array;
  /** GPU time per phase on the steps that were profiled (timestamp queries), else null. */
  phases: PhaseTimings | null;
}

export interface PhaseTimings {
  /** Phase names, e.g. 'stem', 'stage 0', …, 'loss backward', 'optimizer'. */
  names: string[];
  /** Profiled steps, (profiled). */
  step: Uint32Array;
  /** (profiled, names.length) milliseconds. */
  ms: Float32Array;
}

export interface StartOptions {
  /** Stop (state 'finished') after this step; default totalSteps (unbounded once past it). */
  untilStep?: number;
}

export interface RunStepsOptions {
  cancelId?: number;
}

export interface ResetOptions {
  cancelId?: number;
  /** Reseed the run (else config.seed). */
  seed?: number;
}

// ---------------------------------------------------------------------------------- reconstruction

export interface ReconstructRequest {
  /** Mask ratio for this view (default: the training mask ratio). */
  maskRatio?: number;
  /** Seed of the mask (same seed → same mask); default 1. */
  seed?: number;
  /** One chosen dataset image (DatasetSummary order) instead of the evaluation batch. */
  imageIndex?: number;
  cancelId?: number;
}

export interface ReconstructionResult {
  runId: number;
  /** Step whose weights produced it (updates submitted before the request). */
  step: number;
  maskRatio: number;
  seed: number;
  /** Input side S; every panel is (S, S, 4) RGBA. */
  size: number;
  gridH: number;
  gridW: number;
  patches: number;
  visiblePatches: number;
  /** Dataset positions and paths of the images, in panel order. */
  indices: number[];
  paths: string[];
  /** (count, S, S, 4) each, transferred. */
  original: Uint8ClampedArray;
  /** Masked patches shown in the dataset mean colour (normalised 0). */
  masked: Uint8ClampedArray;
  /** The model's prediction of every patch. */
  reconstruction: Uint8ClampedArray;
  /** Prediction at masked patches, the real image at visible ones. */
  pasted: Uint8ClampedArray;
  /** (count, L) 1 = masked, raster order. */
  mask: Uint8Array;
  /** Masked MSE loss of this batch under this mask (in the training target's units). */
  loss: number;
  denormalisation: 'true-patch-statistics' | 'none';
  /** One sentence for the UI explaining how predictions became pixels. */
  denormalisationNote: string;
}

// ---------------------------------------------------------------------------------- checkpoints

/**
 * 'native': safetensors with weights, AdamW moments, config and step (resumes exactly);
 * 'official-dense': torch .pth of the released *_fcmae.pt layout (no `encoder.` prefix);
 * 'official-sparse': torch .pth as the official MinkowskiEngine pretraining writes it;
 * 'timm': encoder only, timm names, safetensors;
 * 'official-pretrain': torch .pth {model, optimizer, epoch, scaler, args} that the official
 * main_pretrain.py --resume continues (io/official-pretrain.ts).
 */
export type CheckpointFormat = 'native' | 'official-sparse' | 'official-dense' | 'timm' | 'official-pretrain';

export interface SaveCheckpointOptions {
  cancelId?: number;
}

export interface SavedCheckpoint {
  format: CheckpointFormat;
  /** Transferred. */
  bytes: Uint8Array;
  /** Suggested download name, e.g. 'fcmae-custom-step120.safetensors'. */
  fileName: string;
  mimeType: string;
  step: number;
  /** Canonical tensors the format has no place for (the decoder in 'timm'). */
  skipped: string[];
}

export interface LoadCheckpointOptions {
  cancelId?: number;
  /** Allow rebuilding the model when the file's size differs from the current one (default true). */
  allowReset?: boolean;
}

export interface CheckpointLoadResult {
  applied: boolean;
  /** The file's size differs from the current model and allowReset was false. */
  needsReset: boolean;
  report: LoadReport;
  /** formatLoadReport lines for display. */
  lines: string[];
  /** Whether the file carried AdamW moments (native files) that were restored. */
  optimizerRestored: boolean;
  status: WorkerStatus;
}

// ---------------------------------------------------------------------------------- events

export interface ProgressEvent {
  type: 'progress';
  /** 'walk': files found so far in a directory handle (total 0 = unknown); 'index': file heads
   *  read; 'decode': the verification pass; 'unzip': 0/1 then 1/1. */
  task: 'walk' | 'index' | 'decode' | 'unzip';
  done: number;
  total: number;
}

export type WorkerEvent =
  | { type: 'status'; status: WorkerStatus }
  | { type: 'metrics'; batch: MetricsBatch }
  | { type: 'dataset'; summary: DatasetSummary }
  | ProgressEvent
  | EvaluationProgressEvent
  | KnnTrackEvent
  | { type: 'snapshot'; snapshot: KeptSnapshot };

/**
 * Known-good weights the page keeps (sent whenever a new snapshot becomes good, arrays
 * transferred): if the worker dies, a new one continues the run from them (restoreRun).
 */
export interface KeptSnapshot {
  runId: number;
  /** The configuration the run had then. */
  config: TrainingConfig;
  state: TrainerState;
}

export type WorkerEventListener = (event: WorkerEvent) => void;

/** Faults the tests inject to exercise recovery (real code paths, not simulations). */
export type InjectedFault = 'device-lost' | 'non-finite-weights' | 'worker-crash';

// ---------------------------------------------------------------------------------- the API

export interface EngineWorkerApi {
  /** Acquire the GPU device in the worker; never throws, reports why WebGPU is unusable. */
  init(): Promise<GpuStatus>;
  /** Multiply random matrices on the GPU and compare with the float64 CPU reference. */
  matmulSelfTest(M: number, N: number, K: number, seed?: number): Promise<SelfTestResult>;

  /** Receive events (pass a Comlink.proxy'd function); returns an id for unsubscribe. */
  subscribe(listener: WorkerEventListener): Promise<number>;
  unsubscribe(id: number): Promise<void>;
  /** Cancel the call that was given this cancelId (no effect if it already settled). */
  cancel(cancelId: number): Promise<void>;
  status(): Promise<WorkerStatus>;
  /** The page's visibility, shown with the throttle state. */
  setPageVisible(visible: boolean): Promise<void>;

  /** The built-in demo photos (public/demo). */
  loadDemo(options?: LoadOptions): Promise<DatasetSummary>;
  /** Files listed by browser-folder.ts (drop, directory picker, <input webkitdirectory>). */
  loadFiles(listing: FolderListing, options?: LoadOptions): Promise<DatasetSummary>;
  /** A directory handle (showDirectoryPicker or OPFS), walked in the worker. */
  loadDirectory(handle: FileSystemDirectoryHandle, options?: LoadOptions): Promise<DatasetSummary>;
  /** A zip of images (a File, or bytes which are transferred). */
  loadZip(zip: Blob | Uint8Array, name: string, options?: LoadOptions): Promise<DatasetSummary>;
  dataset(): Promise<DatasetSummary | null>;
  thumbnails(request: ThumbnailRequest, options?: { cancelId?: number }): Promise<Thumbnails>;

  /** Validate and apply a configuration (builds the plan; see the header for what resets). */
  setConfig(config: TrainingConfig, options?: SetConfigOptions): Promise<ConfigResult>;

  /** Run the loop in the background (returns once it runs). */
  start(options?: StartOptions): Promise<WorkerStatus>;
  /** Stop after the in-flight steps; resolves when paused. */
  pause(): Promise<WorkerStatus>;
  /** Same as start() (continues after pause, finish or a run error). */
  resume(options?: StartOptions): Promise<WorkerStatus>;
  /** One step while paused; resolves with its record. */
  step(options?: RunStepsOptions): Promise<StepRecord>;
  /** Run `count` more steps in the loop and resolve with the last record (for sweeps and tests). */
  runSteps(count: number, options?: RunStepsOptions): Promise<StepRecord>;
  /** New run: weights re-initialised from the seed, step 0, runId + 1. */
  reset(options?: ResetOptions): Promise<WorkerStatus>;

  reconstruct(request: ReconstructRequest): Promise<ReconstructionResult>;
  /** Fine-tune the encoder (or a random one) as a classifier on labelled images; progress as 'evaluation' events. */
  finetune(request: FineTuneRequest): Promise<FineTuneResult>;
  /** Features of labelled images through the encoder (or a random one). */
  embed(request: EmbedRequest): Promise<EmbedResult>;
  /** kNN or linear probe of the frozen features (with the random-init baseline beside). */
  probe(request: ProbeRequest): Promise<ProbeResult>;
  /** The feature-collapse curve per block (with the random-init curve beside). */
  collapse(request: CollapseRequest): Promise<CollapseResultView>;
  /** The activation grid of one block and image (with the random-init grid beside); the maps are transferred. */
  activationGrid(request: ActivationGridRequest): Promise<ActivationGridResult>;
  /** kNN tracking during pretraining (null: off); results arrive as 'knn-track' events. */
  setKnnTracking(tracking: KnnTracking | null): Promise<void>;
  saveCheckpoint(format: CheckpointFormat, options?: SaveCheckpointOptions): Promise<SavedCheckpoint>;
  /** Bytes are transferred. A refused file rejects with kind 'bad-checkpoint' and changes nothing. */
  loadCheckpoint(bytes: Uint8Array, fileName: string, options?: LoadCheckpointOptions): Promise<CheckpointLoadResult>;

  /** A new worker takes over a run the page kept (after the old one died): plan, weights, moments, step and run id. */
  restoreRun(snapshot: KeptSnapshot): Promise<WorkerStatus>;

  /** Tests only: make a real fault happen (destroy the device, write NaN into the weights, end the worker). */
  injectFault(fault: InjectedFault): Promise<void>;
  /** Stop everything and free the GPU; the worker is unusable afterwards. */
  dispose(): Promise<void>;
}
