// Evaluation slice: what the encoder's measurements found (kNN / linear probes, fine-tuning
// beside a random-init baseline, the feature-collapse curve), each kept with the pretraining
// step it measured, and the one evaluation in progress (its progress from the worker's
// 'evaluation' events, or why the last one stopped). A cancel or a failure keeps the results.
import type { StateCreator } from 'zustand';
import type { CollapseResultView, EvaluationProgressEvent, FineTuneResult, LabelledSource, ProbeResult } from '../worker/protocol.ts';

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

export type EvaluationKind = 'knn' | 'linear' | 'finetune' | 'collapse';
export type EvaluationStatus = 'idle' | 'running' | 'finished' | 'cancelled' | 'failed';

interface ResultBase {
  id: number;
  /** The pretraining step of the encoder measured. */
  pretrainStep: number;
  data: LabelledSource;
  createdAt: number;
}

export type EvaluationResult =
  | (ResultBase & { kind: 'knn' | 'linear'; probe: ProbeResult })
  /** baseline: the same fine-tuning of a random encoder (null until it has run, or when cancelled before). */
  | (ResultBase & { kind: 'finetune'; finetune: FineTuneResult; baseline: FineTuneResult | null })
  | (ResultBase & { kind: 'collapse'; collapse: CollapseResultView });

export interface EvaluationRun {
  status: EvaluationStatus;
  kind: EvaluationKind | null;
  /** What runs now ("Fine-tune 2 of 2: random init"). */
  label: string;
  progress: EvaluationProgressEvent | null;
  error: { message: string; suggestion: string } | null;
}

export interface EvaluationSlice {
  evaluationData: LabelledSource;
  evaluation: EvaluationRun;
  evaluationResults: EvaluationResult[];
  evaluationSettings: EvaluationSettings;
  setEvaluationSettings(settings: EvaluationSettings): void;
  setEvaluationData(data: LabelledSource): void;
  beginEvaluation(kind: EvaluationKind, label: string): void;
  setEvaluationLabel(label: string): void;
  setEvaluationProgress(progress: EvaluationProgressEvent): void;
  endEvaluation(status: 'finished' | 'cancelled' | 'failed', error?: { message: string; suggestion: string }): void;
  /** Adds a result, or replaces the one with the same id (fine-tuning's baseline arrives second). */
  putEvaluationResult(result: EvaluationResult): void;
  clearEvaluationResults(): void;
}

export const IDLE_EVALUATION: EvaluationRun = { status: 'idle', kind: null, label: '', progress: null, error: null };

let nextResultId = 1;
export const newEvaluationResultId = (): number => nextResultId++;

export const createEvaluationSlice: StateCreator<EvaluationSlice, [], [], EvaluationSlice> = (set, get) => ({
  evaluationData: 'fashion-demo',
  evaluation: IDLE_EVALUATION,
  evaluationResults: [],
  evaluationSettings: DEFAULT_EVALUATION_SETTINGS,
  setEvaluationSettings(evaluationSettings) {
    set({ evaluationSettings });
  },
  setEvaluationData(evaluationData) {
    set({ evaluationData });
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
    const list = get().evaluationResults;
    const at = list.findIndex((r) => r.id === result.id);
    set({ evaluationResults: at < 0 ? [...list, result] : list.map((r, i) => (i === at ? result : r)) });
  },
  clearEvaluationResults() {
    set({ evaluationResults: [] });
  },
});
