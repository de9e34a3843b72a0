// One fine-tuning run, whatever drives it (the CLI's `finetune`, the browser worker's
// evaluation host): steps through the shared step loop, two in flight, evaluations on the
// validation images every `evalEvery` steps and at the end, and the driver's checkpoints at
// pause points. The driver supplies the batches (data/labelled-batches.ts), the validation
// images and what to do with each result; the run owns the order of things.
import type { ClassifierTrainer } from './classifier-trainer.ts';
import { classificationReport, predictions, type ClassificationReport } from './classification-metrics.ts';
import { classifyAll } from './classify-all.ts';
import type { FineTuneConfig } from './finetune-config.ts';
import { runStepLoop, type StepFailure } from './step-loop.ts';
import type { StepResult } from './trainer.ts';

export interface ValidationSet {
  count: number;
  /** Images start..start+n−1 in the evaluation transform, (n, 3, S, S). */
  imagesOf(start: number, n: number): Float32Array | Promise<Float32Array>;
  labels: Int32Array;
}

export interface FineTuneEvaluation {
  step: number;
  /** Mean loss over the validation images (the training loss's label smoothing). */
  loss: number;
  report: ClassificationReport;
}

export interface FineTuneRunOptions {
  trainer: ClassifierTrainer;
  settings: FineTuneConfig;
  /** Optimizer steps already taken (a resumed run). */
  startStep: number;
  batchFor(step: number): { images: Float32Array; labels: Int32Array } | Promise<{ images: Float32Array; labels: Int32Array }>;
  validation: ValidationSet;
  /** A trainer for evaluation batches (any batch size), given the weights to evaluate. */
  evaluator(params: Float32Array, step: number): Promise<ClassifierTrainer>;
  signal?: AbortSignal;
  onStep?(result: StepResult): void;
  onEvaluation?(e: FineTuneEvaluation): void;
  /** Steps after which the driver saves (the window drains first). */
  checkpointAfter?(step: number): boolean;
  onCheckpoint?(step: number): Promise<void>;
  /** Awaited after each submission (the worker hops to the event loop). */
  betweenSteps?: () => Promise<void>;
}

export interface FineTuneRunEnd {
  reason: 'last-step' | 'stopped' | 'failed';
  lastStep: number;
  failure: StepFailure | null;
  /** The evaluation after the last step (null when stopped or failed). */
  final: FineTuneEvaluation | null;
}

/** Accuracy and loss of the trainer's current weights on the validation images. */
export async function evaluateFineTune(o: Pick<FineTuneRunOptions, 'trainer' | 'validation' | 'evaluator' | 'signal'>, step: number): Promise<FineTuneEvaluation> {
  const { params } = await o.trainer.saveState(false);
  const evaluator = await o.evaluator(params, step);
  const v = o.validation;
  const K = o.trainer.plan.shape.numClasses;
  const r = await classifyAll(evaluator, v.count, (s, n) => v.imagesOf(s, n), v.labels, { signal: o.signal });
  const report = classificationReport(predictions(r.logits, r.count, K), v.labels, K);
  let sum = 0;
  let n = 0;
  for (const l of r.losses) {
    if (!Number.isNaN(l)) {
      sum += l;
      n++;
    }
  }
  return { step, loss: n ? sum / n : NaN, report };
}

export async function runFineTune(o: FineTuneRunOptions): Promise<FineTuneRunEnd> {
  const { settings, trainer } = o;
  const evalDue = (k: number) => settings.evalEvery > 0 && k % settings.evalEvery === 0;
  const end = await runStepLoop<{ images: Float32Array; labels: Int32Array }, StepResult>(
    {
      prepare: async (k) => o.batchFor(k),
      submit: (_k, b) => trainer.submit(b.images, b.labels),
      deliver: (r) => o.onStep?.(r),
      pauseAfter: (k) => k !== settings.totalSteps && (evalDue(k) || (o.checkpointAfter?.(k) ?? false)),
      pause: async (k) => {
        if (evalDue(k)) o.onEvaluation?.(await evaluateFineTune(o, k));
        if (o.checkpointAfter?.(k)) await o.onCheckpoint?.(k);
      },
    },
    { first: o.startStep + 1, last: settings.totalSteps, depth: 2, prefetch: true, signal: o.signal, betweenSteps: o.betweenSteps },
  );
  let final: FineTuneEvaluation | null = null;
  if (end.reason === 'last-step' && end.lastDelivered > o.startStep) {
    final = await evaluateFineTune(o, end.lastDelivered);
    o.onEvaluation?.(final);
  }
  return { reason: end.reason, lastStep: Math.max(o.startStep, end.lastDelivered), failure: end.failure, final };
}
