// Evaluation slice: what the encoder's measurements found (kNN / linear probes, fine-tuning
// beside a random-init baseline, the feature-collapse curve), each kept with the pretraining
// step it measured, and the one evaluation in progress (its progress from the worker's
// 'evaluation' events, or why the last one stopped). A cancel or a failure keeps the results.
// The activation grid keeps its maps here as data (the canvas redraws from them, after a lost
// canvas context too); only the latest grid is kept, its maps being large.
import type { StateCreator } from 'zustand';
import type { ActivationGridResult, CollapseResultView, EvaluationProgressEvent, FineTuneResult, KnnTrackEvent, LabelledSource, ProbeResult } from '../worker/protocol.ts';

export interface EvaluationSettings {
  /** Fine-tuning overrides of the worker's 'small-data' preset (input size: the run's). */
  finetune: { totalSteps: number; batchSize: number; evalEvery: number };
  /** Images averaged for the feature-collapse curve. */
  collapseImages: number;
}

/** Small, quick settings (a playground's minute, not the paper's recipe); the panel states them. */
export const DEFAULT_EVALUATION_SETTINGS: EvaluationSettings = {
  finetune: { totalSteps: 60, batchSize: 16, evalEvery: 20 },
  collapseImages: 16,
};

export type EvaluationKind = 'knn' | 'linear' | 'finetune' | 'collapse' | 'grid';
export type EvaluationStatus = 'idle' | 'running' | 'finished' | 'cancelled' | 'failed';

interface ResultBase {
  id: number;
  /** The worker run measured (results are stored with that run in the history). */
  runId?: number;
  /** The pretraining step of the encoder measured. */
  pretrainStep: number;
  data: LabelledSource;
  createdAt: number;
}

export type EvaluationResult =
  | (ResultBase & { kind: 'knn' | 'linear'; probe: ProbeResult })
  /** baseline: the same fine-tuning of a random encoder (null until it has run, or when cancelled before). */
  | (ResultBase & { kind: 'finetune'; finetune: FineTuneResult; baseline: FineTuneResult | null })
  | (ResultBase & { kind: 'collapse'; collapse: CollapseResultView })
  | (ResultBase & { kind: 'grid'; grid: ActivationGridResult });

/** The activation grid's block (stage.block, from 0) and labelled image (from 0). */
export interface ActivationGridChoice {
  stage: number;
  block: number;
  image: number;
}

/** Stage 2 block 0, the first image: `fcmae analyze --grid`'s defaults. */
export const DEFAULT_ACTIVATION_GRID_CHOICE: ActivationGridChoice = { stage: 2, block: 0, image: 0 };

/** Every block of a model with these depths, as stage.block choices (stage 0 block 0 first). */
export function activationGridBlocks(depths: readonly number[]): { stage: number; block: number }[] {
  return depths.flatMap((d, stage) => Array.from({ length: d }, (_, block) => ({ stage, block })));
}

/**
 * The choice made to fit a model with these depths (the model may have changed since): a stage
 * it lacks becomes its last stage, a block past the stage's depth its last block; the image a
 * whole number ≥ 0 (the worker names the labelled images there are if it is past them).
 */
export function fitActivationGridChoice(depths: readonly number[], c: ActivationGridChoice): ActivationGridChoice {
  const blocks = activationGridBlocks(depths);
  if (blocks.length === 0) return { ...c, image: Math.max(0, Math.floor(c.image) || 0) };
  const stage = Math.min(Math.max(0, c.stage), depths.length - 1);
  const stageBlocks = blocks.filter((b) => b.stage === stage);
  const pick = stageBlocks.length ? stageBlocks[Math.min(Math.max(0, c.block), stageBlocks.length - 1)]! : blocks.at(-1)!;
  return { stage: pick.stage, block: pick.block, image: Math.max(0, Math.floor(c.image) || 0) };
}

export interface EvaluationRun {
  status: EvaluationStatus;
  kind: EvaluationKind | null;
  /** What runs now ("Fine-tune 2 of 2: random init"). */
  label: string;
  progress: EvaluationProgressEvent | null;
  error: { message: string; suggestion: string } | null;
}

/** kNN tracking of the run in progress: one point per tracked step (worker 'knn-track' events). */
export interface KnnTrackState {
  runId: number;
  step: number[];
  top1: number[];
  baselineTop1: number | null;
  valCount: number;
  /** Why tracking stopped (the run went on). */
  error: string | null;
}

export const EMPTY_KNN_TRACK: KnnTrackState = { runId: 0, step: [], top1: [], baselineTop1: null, valCount: 0, error: null };

export interface EvaluationSlice {
  knnTrack: KnnTrackState;
  /** A tracking point (or failure); a point of another run starts a new curve, an older step than the last cuts the curve there. */
  addKnnTrack(event: KnnTrackEvent): void;
  clearKnnTrack(runId: number): void;
  evaluation: EvaluationRun;
  evaluationResults: EvaluationResult[];
  evaluationSettings: EvaluationSettings;
  setEvaluationSettings(settings: EvaluationSettings): void;
  activationGridChoice: ActivationGridChoice;
  setActivationGridChoice(choice: ActivationGridChoice): void;
  beginEvaluation(kind: EvaluationKind, label: string): void;
  setEvaluationLabel(label: string): void;
  setEvaluationProgress(progress: EvaluationProgressEvent): void;
  endEvaluation(status: 'finished' | 'cancelled' | 'failed', error?: { message: string; suggestion: string }): void;
  /** Adds a result, or replaces the one with the same id (fine-tuning's baseline arrives second); a new grid replaces the older grid. */
  putEvaluationResult(result: EvaluationResult): void;
  clearEvaluationResults(): void;
}

export const IDLE_EVALUATION: EvaluationRun = { status: 'idle', kind: null, label: '', progress: null, error: null };

let nextResultId = 1;
export const newEvaluationResultId = (): number => nextResultId++;

export const createEvaluationSlice: StateCreator<EvaluationSlice, [], [], EvaluationSlice> = (set, get) => ({
  knnTrack: EMPTY_KNN_TRACK,
  addKnnTrack(e) {
    const t = get().knnTrack;
    if (e.runId < t.runId) return;
    const base = e.runId === t.runId ? t : { ...EMPTY_KNN_TRACK, runId: e.runId };
    if ('error' in e) {
      set({ knnTrack: { ...base, error: `kNN tracking stopped at step ${e.step}: ${e.error}` } });
      return;
    }
    // a run restored to an earlier step (a failure, a reload) tracks again from there
    const keep = base.step.findIndex((s) => s >= e.step);
    const cut = keep < 0 ? base.step.length : keep;
    set({ knnTrack: { runId: e.runId, step: [...base.step.slice(0, cut), e.step], top1: [...base.top1.slice(0, cut), e.top1], baselineTop1: e.baselineTop1 ?? base.baselineTop1, valCount: e.valCount, error: null } });
  },
  clearKnnTrack(runId) {
    set({ knnTrack: { ...EMPTY_KNN_TRACK, runId } });
  },
  evaluation: IDLE_EVALUATION,
  evaluationResults: [],
  evaluationSettings: DEFAULT_EVALUATION_SETTINGS,
  setEvaluationSettings(evaluationSettings) {
    set({ evaluationSettings });
  },
  activationGridChoice: DEFAULT_ACTIVATION_GRID_CHOICE,
  setActivationGridChoice(activationGridChoice) {
    set({ activationGridChoice });
  },
  beginEvaluation(kind, label) {
    set({ evaluation: { status: 'running', kind, label, progress: null, error: null } });
  },
  setEvaluationLabel(label) {
    set({ evaluation: { ...get().evaluation, label, progress: null } });
  },
  setEvaluationProgress(progress) {
    // late events of a finished or cancelled evaluation must not bring its bar back
    if (get().evaluation.status !== 'running') return;
    set({ evaluation: { ...get().evaluation, progress } });
  },
  endEvaluation(status, error) {
    set({ evaluation: { ...get().evaluation, status, progress: null, error: error ?? null } });
  },
  putEvaluationResult(result) {
    const list = result.kind === 'grid' ? get().evaluationResults.filter((r) => r.kind !== 'grid' || r.id === result.id) : get().evaluationResults;
    const at = list.findIndex((r) => r.id === result.id);
    set({ evaluationResults: at < 0 ? [...list, result] : list.map((r, i) => (i === at ? result : r)) });
  },
  clearEvaluationResults() {
    set({ evaluationResults: [] });
  },
});
