// The page's evaluations of the encoder, one at a time (the worker pauses pretraining for them
// and resumes it afterwards): the Evaluation panel's buttons, and the measurement that ends each
// run of a sweep. Results go to the store stamped with the worker's run id, so recordRun can keep
// a run's own results with it in the history. Probes and collapse bring their random-init
// baseline in the same call, and so does the activation grid (kept as data in the store);
// fine-tuning runs twice (the current encoder, then a random one).
import { fitActivationGridChoice, newEvaluationResultId, type EvaluationKind } from '../store/evaluation-slice.ts';
import type { SweepEvaluation } from '../store/settings.ts';
import type { AppStore } from '../store/store.ts';
import type { EngineClient } from '../worker/client.ts';
import { isWorkerError, type LabelledSource } from '../worker/protocol.ts';
import { isCancelled, messageOf } from './error-message.ts';

/** Images of a sweep run's collapse curve (a sweep measures many runs: fewer than the button's). */
export const SWEEP_COLLAPSE_IMAGES = 8;



/** The labelled images chosen, or the demo set where the data set has fewer than two class folders. */
export function evaluationDataOf(store: AppStore): LabelledSource {
  const s = store.getState();
  return s.settings.evalData === 'dataset' && (s.dataset?.classes.length ?? 0) >= 2 ? 'dataset' : 'fashion-demo';
}

export class EvaluationRunner {
  private abort: AbortController | null = null;

  /** `clientOf`: the current worker's client (a restarted worker replaces it). */
  constructor(
    private readonly clientOf: () => EngineClient,
    private readonly store: AppStore,
  ) {}

  private get client(): EngineClient {
    return this.clientOf();
  }

  private get state() {
    return this.store.getState();
  }

  /** One measurement of the current encoder into the store; `maxImages` limits a probe to a class-balanced subset. */
  private async measure(kind: EvaluationKind, signal: AbortSignal, o: { maxImages?: number; collapseImages?: number } = {}): Promise<void> {
    const s = this.state;
    const data = evaluationDataOf(this.store);
    const base = { id: newEvaluationResultId(), data, createdAt: Date.now(), runId: s.run.runId };
    switch (kind) {
      case 'knn':
      case 'linear': {
        s.beginEvaluation(kind, kind === 'knn' ? 'kNN probe (current encoder and random init)' : 'Linear probe (current encoder and random init)');
        const probe = await this.client.probe({ encoder: 'current', data, method: kind, baseline: true, maxImages: o.maxImages, signal });
        this.state.putEvaluationResult({ ...base, kind, pretrainStep: probe.pretrainStep, probe });
        break;
      }
      case 'collapse': {
        s.beginEvaluation(kind, 'Feature collapse (current encoder and random init)');
        const collapse = await this.client.collapse({ encoder: 'current', data, baseline: true, maxImages: o.collapseImages ?? s.evaluationSettings.collapseImages, signal });
        this.state.putEvaluationResult({ ...base, kind, pretrainStep: collapse.pretrainStep, collapse });
        break;
      }
      case 'grid': {
        const g = fitActivationGridChoice(s.settings.depths, s.activationGridChoice);
        s.beginEvaluation(kind, `Activation grid of block ${g.stage}.${g.block}, image ${g.image} (current encoder and random init)`);
        const grid = await this.client.activationGrid({ encoder: 'current', data, stage: g.stage, block: g.block, image: g.image, baseline: true, signal });
        this.state.putEvaluationResult({ ...base, kind, pretrainStep: grid.pretrainStep, grid });
        break;
      }
      case 'finetune': {
        s.beginEvaluation(kind, 'Fine-tune 1 of 2: the current encoder');
        const settings = s.evaluationSettings.finetune;
        const finetune = await this.client.finetune({ encoder: 'current', data, settings, signal });
        const result = { ...base, kind, pretrainStep: finetune.pretrainStep, finetune, baseline: null };
        this.state.putEvaluationResult(result);
        this.state.setEvaluationLabel('Fine-tune 2 of 2: random init (the baseline)');
        const baseline = await this.client.finetune({ encoder: 'random', data, settings, signal });
        this.state.putEvaluationResult({ ...result, baseline });
        break;
      }
    }
  }

  /** A button of the Evaluation panel: progress, Cancel and the outcome in the store. */
  async run(kind: EvaluationKind): Promise<void> {
    if (this.state.evaluation.status === 'running') return;
    const abort = new AbortController();
    this.abort = abort;
    try {
      await this.measure(kind, abort.signal);
      this.state.endEvaluation('finished');
    } catch (e) {
      if (isCancelled(e)) this.state.endEvaluation('cancelled');
      else this.state.endEvaluation('failed', { message: isWorkerError(e) ? e.message : messageOf(e), suggestion: isWorkerError(e) ? e.suggestion : '' });
    } finally {
      if (this.abort === abort) this.abort = null;
    }
  }

  /**
   * The end of a sweep run: the chosen accuracy measurement (probes on the settings' evaluation
   * subset) and the collapse curve. Throws (a cancel included) so the sweep stops.
   */
  async forSweep(kind: Exclude<SweepEvaluation, 'none'>, sweepSignal: AbortSignal): Promise<void> {
    // the panel's Cancel stops it too (and with it the sweep)
    const abort = new AbortController();
    const forward = () => abort.abort();
    sweepSignal.addEventListener('abort', forward, { once: true });
    this.abort = abort;
    const signal = abort.signal;
    try {
      const subset = this.state.settings.evalSubset;
      await this.measure(kind, signal, { maxImages: subset });
      await this.measure('collapse', signal, { collapseImages: SWEEP_COLLAPSE_IMAGES });
      this.state.endEvaluation('finished');
    } catch (e) {
      this.state.endEvaluation(isCancelled(e) ? 'cancelled' : 'failed', isCancelled(e) ? undefined : { message: messageOf(e), suggestion: '' });
      throw e;
    } finally {
      sweepSignal.removeEventListener('abort', forward);
      if (this.abort === abort) this.abort = null;
    }
  }

  cancel(): void {
    this.abort?.abort();
  }
}
