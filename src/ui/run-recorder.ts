// The run history on the page's side: opens the IndexedDB store (run-history.ts) and lists its
// runs, records the current run (settings, curves, final reconstruction, the evaluations stamped
// with its run id and its kNN-tracking curve) and deletes runs. A storage failure (a full quota
// among them) becomes the history's error message; the page's list keeps the run either way.
import type { LiveMetrics } from '../store/live-metrics.ts';
import { RunHistoryDb, type RunRecord } from '../store/run-history.ts';
import { runEvaluationOf, type AccuracyKind } from '../store/run-evaluation.ts';
import type { Settings } from '../store/settings.ts';
import type { AppStore } from '../store/store.ts';
import type { ReconstructionResult } from '../worker/protocol.ts';
import { messageOf } from './error-message.ts';
import { reconstructionPng } from './recon-image.ts';

export class RunRecorder {
  private history: RunHistoryDb | null = null;

  constructor(
    private readonly store: AppStore,
    private readonly live: LiveMetrics,
  ) {}

  private get state() {
    return this.store.getState();
  }

  /** Open the stored history and list its runs. */
  async open(): Promise<void> {
    try {
      this.history = await RunHistoryDb.open();
      this.state.setRuns(await this.history.list());
    } catch (e) {
      this.state.setHistoryError(messageOf(e));
    }
  }

  /** Save the current run (settings, curve, reconstructions, evaluations) in the history. */
  async record(settings: Settings, recon: ReconstructionResult | null, sweepId?: string, name?: string, judgedBy?: AccuracyKind): Promise<RunRecord> {
    const s = this.state;
    const runId = s.run.runId;
    const track = s.knnTrack.runId === runId ? s.knnTrack : null;
    const evaluation = runEvaluationOf(
      s.evaluationResults.filter((r) => r.runId === runId),
      track,
      judgedBy,
    );
    const curves = this.live.series.toJSON();
    const n = curves.step.length;
    const smoothed = this.live.smoothedLoss(s.settings.smoothing);
    const record: RunRecord = {
      id: `run-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`,
      name: name ?? `${settings.size} mask ${settings.maskRatio}`,
      createdAt: Date.now(),
      sweepId,
      settings,
      dataset: { name: s.dataset?.name ?? '?', images: s.dataset?.images ?? 0 },
      steps: n > 0 ? curves.step[n - 1]! : 0,
      finalLoss: n > 0 ? curves.loss[n - 1]! : NaN,
      smoothedLoss: n > 0 ? smoothed[n - 1]! : NaN,
      meanImagesPerSec: n > 0 ? curves.imagesPerSec.reduce((a, b) => a + b, 0) / n : NaN,
      wallSeconds: n > 0 ? curves.wallMs[n - 1]! / 1000 : 0,
      curves: { step: curves.step, loss: curves.loss, lr: curves.lr, imagesPerSec: curves.imagesPerSec },
      reconstruction: recon ? { maskRatio: recon.maskRatio, maskSeed: recon.seed, png: await reconstructionPng(recon) } : undefined,
      evaluation,
    };
    s.addRun(record);
    try {
      await this.history?.put(record);
    } catch (e) {
      s.setHistoryError(messageOf(e));
    }
    return record;
  }

  async delete(id: string): Promise<void> {
    this.state.removeRun(id);
    try {
      await this.history?.delete(id);
    } catch (e) {
      this.state.setHistoryError(messageOf(e));
    }
  }
}
