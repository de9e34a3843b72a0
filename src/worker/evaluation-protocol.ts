// The evaluation part of the page ↔ worker contract (protocol.ts re-exports it): measurements
// of the encoder — fine-tuning, embedding, probes, feature collapse, the activation grid — with their requests,
// results and progress events. Types only.
import type { FineTuneConfig, FineTunePreset } from '../train/finetune-config.ts';

// ---------------------------------------------------------------------------------- evaluation
//
// Measurements of the encoder (evaluation-spec): fine-tuning it as a classifier and embedding
// labelled images. Both run with the pretraining loop paused (it resumes afterwards), on the
// encoder as it stands ('current', the run's weights at the step they report) or on a random
// initialisation of the same architecture ('random', the baseline every figure needs beside it).

/** Labelled images: the loaded data set's class subfolders, or the labelled demo set (1000 Fashion-MNIST images, 10 classes). */
export type LabelledSource = 'dataset' | 'fashion-demo';
export type EncoderChoice = 'current' | 'random';

export interface FineTuneRequest {
  encoder: EncoderChoice;
  data: LabelledSource;
  /** Default 'small-data'. */
  preset?: FineTunePreset;
  /** Overrides of the preset (totalSteps, batchSize, inputSize, blr, …). */
  settings?: Partial<FineTuneConfig>;
  /** Held-out fraction per class (default 0.2). */
  valFraction?: number;
  /** Seed of the head's initialisation and of a random encoder (default the run's seed). */
  seed?: number;
  cancelId?: number;
}

export interface FineTuneEvaluationPoint {
  step: number;
  top1: number;
  loss: number;
}

export interface FineTuneResult {
  encoder: EncoderChoice;
  data: LabelledSource;
  /** The pretraining step of the encoder that was fine-tuned (0 for a random one). */
  pretrainStep: number;
  classes: string[];
  trainCount: number;
  valCount: number;
  /** Validation top-1 after the last step, in [0, 1]. */
  top1: number;
  perClass: number[];
  /** confusion[true][predicted] */
  confusion: number[][];
  /** Training loss of every step. */
  curve: { step: number; loss: number; lr: number }[];
  evaluations: FineTuneEvaluationPoint[];
  settings: FineTuneConfig;
  notes: string[];
}

export interface EmbedRequest {
  encoder: EncoderChoice;
  data: LabelledSource;
  /** Default: the run's input size. */
  inputSize?: number;
  seed?: number;
  cancelId?: number;
}

export interface EmbedResult {
  encoder: EncoderChoice;
  data: LabelledSource;
  pretrainStep: number;
  count: number;
  /** Feature width (the last stage's channels). */
  dim: number;
  /** (count, dim) the pooled LayerNorm output of each image (transferred). */
  features: Float32Array;
  /** (count) class index of each image. */
  labels: Int32Array;
  classes: string[];
}

export interface ProbeRequest {
  encoder: EncoderChoice;
  data: LabelledSource;
  method: 'knn' | 'linear';
  /** Held-out fraction per class (default 0.2). */
  valFraction?: number;
  /** kNN: neighbours (default 20) and temperature (0.07). */
  k?: number;
  temperature?: number;
  /** Linear probe: epochs (default 100) and peak lr (0.1). */
  epochs?: number;
  lr?: number;
  /** Default: the run's input size. */
  inputSize?: number;
  /** Also probe a random initialisation of the same architecture (default true). */
  baseline?: boolean;
  /** Probe a class-balanced subset of at most this many images (split as the whole would be); default all. */
  maxImages?: number;
  seed?: number;
  cancelId?: number;
}

export interface ProbeResult {
  encoder: EncoderChoice;
  data: LabelledSource;
  method: 'knn' | 'linear';
  pretrainStep: number;
  classes: string[];
  trainCount: number;
  valCount: number;
  top1: number;
  /** The same probe on a random initialisation (null when not asked for). */
  baselineTop1: number | null;
}

export interface CollapseRequest {
  encoder: EncoderChoice;
  data: LabelledSource;
  /** Images analysed, spread over the data (default 16). */
  maxImages?: number;
  inputSize?: number;
  /** Also analyse a random initialisation of the same architecture (default true). */
  baseline?: boolean;
  seed?: number;
  cancelId?: number;
}

export interface CollapseResultView {
  encoder: EncoderChoice;
  data: LabelledSource;
  pretrainStep: number;
  images: number;
  /** Per block, stage 0 block 0 first. */
  blocks: { stage: number; block: number; channels: number; normalisedIndex: number }[];
  distance: number[];
  baselineDistance: number[] | null;
}

/**
 * The activation grid (the paper's Fig. 3; evaluation-spec §4): for one labelled image and one
 * encoder block, the first 64 channel maps of the block's expansion activations (after GRN;
 * after GELU without GRN), each scaled to [0, 1]: what `fcmae analyze --grid` draws.
 */
export interface ActivationGridRequest {
  encoder: EncoderChoice;
  data: LabelledSource;
  /** The block: stage 0..3, block 0..depth − 1 of that stage. */
  stage: number;
  block: number;
  /** Which labelled image (0-based, in the order the probes read them: class folders sorted, then paths). */
  image: number;
  inputSize?: number;
  /** Also the grid of a random initialisation of the same architecture (default true). */
  baseline?: boolean;
  seed?: number;
  cancelId?: number;
}

export interface ActivationGridView {
  /** Sites per side of the block's stage (input/32 · 2^(3 − stage)). */
  width: number;
  height: number;
  /** The block's channels (4C); `count` of them are drawn: min(64, channels). */
  channels: number;
  count: number;
  /** (count, height, width): map c at c·height·width, each in [0, 1] (a constant map is 0); transferred. */
  maps: Float32Array;
}

export interface ActivationGridResult {
  encoder: EncoderChoice;
  data: LabelledSource;
  pretrainStep: number;
  stage: number;
  block: number;
  image: number;
  /** Labelled images there are (the image index is below it) and the chosen image's class. */
  images: number;
  className: string;
  current: ActivationGridView;
  /** The same image and block through a random initialisation (null when not asked for). */
  baseline: ActivationGridView | null;
}

/** Progress of an evaluation: `done` of `total` steps (fine-tuning) or images. */
export interface EvaluationProgressEvent {
  type: 'evaluation';
  task: 'finetune' | 'embed' | 'probe' | 'collapse' | 'grid';
  phase: 'data' | 'train' | 'evaluate';
  done: number;
  total: number;
  loss?: number;
  valTop1?: number;
}

// ------------------------------------------------------------------------------- kNN tracking
//
// During pretraining, the loop pauses after every `every`-th step (its window drained: the weights
// are exactly those after that step), runs the same kNN probe as ProbeRequest on the run's
// current encoder, reports a 'knn-track' event, and goes on. The random-init baseline is measured
// once per run and architecture and repeated in every event.

export interface KnnTracking {
  /** Probe after every `every`-th step (≥ 1). */
  every: number;
  data: LabelledSource;
  /** The class-balanced evaluation subset (keeps each probe cheap). */
  maxImages: number;
}

export type KnnTrackEvent =
  | { type: 'knn-track'; runId: number; step: number; top1: number; baselineTop1: number | null; trainCount: number; valCount: number; classes: number }
  /** The probe failed at that step: tracking stops (the run goes on); the message says why. */
  | { type: 'knn-track'; runId: number; step: number; error: string };
