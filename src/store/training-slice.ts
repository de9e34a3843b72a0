// Training slice: the transport state (idle → preparing → running ⇄ paused → finished, or
// stopped with an error) and the latest figures the transport bar and status region show.
// The full curves do not live here (see live-metrics.ts): React state holds only the last
// point, updated at most once per animation frame.
import type { StateCreator } from 'zustand';
import type { PlanInfo, WorkerStatus } from '../worker/protocol.ts';

export type RunStatus = 'idle' | 'preparing' | 'running' | 'paused' | 'finished' | 'stopped';

/** The page's run status for the worker's run state. */
export function runStatusOf(state: WorkerStatus['state']): RunStatus {
  switch (state) {
    case 'idle':
    case 'ready':
      return 'idle';
    case 'running':
    case 'pausing':
      return 'running';
    case 'paused':
      return 'paused';
    case 'finished':
      return 'finished';
    case 'error':
      return 'stopped';
  }
}

/** Outcome of the last checkpoint load or save, for the checkpoint panel. */
export interface CheckpointReport {
  ok: boolean;
  title: string;
  lines: string[];
  /** A loaded file without a decoder: the panel offers the decoder warm-up. */
  encoderOnly?: boolean;
}

export interface RunError {
  message: string;
  /** What to try, when known. */
  advice?: string;
  /** The last good weights are kept: Start continues from them. */
  canContinue: boolean;
  /** The step of the kept weights Start continues from (when the worker said). */
  continuesFrom?: number;
}

export interface RunState {
  status: RunStatus;
  /** Optimizer steps done in this run. */
  step: number;
  totalSteps: number;
  loss: number | null;
  smoothedLoss: number | null;
  lr: number | null;
  imagesPerSec: number | null;
  /** Wall time of one step, ms (smoothed). */
  stepMs: number | null;
  etaSeconds: number | null;
  /** What the worker is doing when not stepping (compiling kernels, decoding images...). */
  activity: string | null;
  /** The browser throttles the page (background tab): the worker keeps going, the page repaints less. */
  throttled: boolean;
  error: RunError | null;
  /** The worker's run id (new on reset and checkpoint load). */
  runId: number;
}

export interface MetricsSummary {
  step: number;
  loss: number;
  smoothedLoss: number;
  lr: number;
  imagesPerSec: number;
  stepMs: number;
}

export interface TrainingSlice {
  run: RunState;
  /** Figures of the built (or estimated) plan from the worker. */
  plan: PlanInfo | null;
  /** Settings changes waiting for the user to accept a reset (model, input size, seed). */
  pendingReset: { reasons: string[] } | null;
  /** The worker refused the settings (names the setting). */
  configError: string | null;
  /** Outcome of the last checkpoint load or save, for the checkpoint panel. */
  checkpointReport: CheckpointReport | null;
  setConfigError(message: string | null): void;
  setCheckpointReport(report: CheckpointReport | null): void;
  setPlan(plan: PlanInfo | null): void;
  setPendingReset(pending: { reasons: string[] } | null): void;
  setRunId(runId: number): void;
  setRunStatus(status: RunStatus, activity?: string | null): void;
  setActivity(activity: string | null): void;
  setThrottled(throttled: boolean): void;
  applyMetricsSummary(m: MetricsSummary): void;
  setTotalSteps(totalSteps: number): void;
  /** The step (and its loss) the worker reports without metrics (checkpoint loaded, weights restored). */
  setRunStep(step: number, loss: number | null): void;
  setRunError(error: RunError): void;
  resetRun(totalSteps: number): void;
}

/** Seconds left at the current pace (null before any step or when done). */
export function etaSeconds(step: number, totalSteps: number, stepMs: number | null): number | null {
  if (stepMs === null || !Number.isFinite(stepMs) || stepMs <= 0 || step >= totalSteps) return step >= totalSteps ? 0 : null;
  return ((totalSteps - step) * stepMs) / 1000;
}

/** "42 s", "3 min 05 s", "2 h 07 min". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function initialRun(totalSteps: number): RunState {
  return { status: 'idle', step: 0, totalSteps, loss: null, smoothedLoss: null, lr: null, imagesPerSec: null, stepMs: null, etaSeconds: null, activity: null, throttled: false, error: null, runId: 0 };
}

export const createTrainingSlice: StateCreator<TrainingSlice, [], [], TrainingSlice> = (set, get) => ({
  run: initialRun(1000),
  plan: null,
  pendingReset: null,
  configError: null,
  checkpointReport: null,
  setConfigError(configError) {
    if (get().configError !== configError) set({ configError });
  },
  setCheckpointReport(checkpointReport) {
    set({ checkpointReport });
  },
  setPlan(plan) {
    set({ plan });
  },
  setPendingReset(pendingReset) {
    set({ pendingReset });
  },
  setRunId(runId) {
    if (get().run.runId !== runId) set({ run: { ...get().run, runId } });
  },
  setRunStatus(status, activity = null) {
    set({ run: { ...get().run, status, activity, ...(status === 'running' ? { error: null } : {}) } });
  },
  setActivity(activity) {
    set({ run: { ...get().run, activity } });
  },
  setThrottled(throttled) {
    if (get().run.throttled !== throttled) set({ run: { ...get().run, throttled } });
  },
  applyMetricsSummary(m) {
    const run = get().run;
    set({
      run: {
        ...run,
        step: m.step,
        loss: m.loss,
        smoothedLoss: m.smoothedLoss,
        lr: m.lr,
        imagesPerSec: m.imagesPerSec,
        stepMs: m.stepMs,
        etaSeconds: etaSeconds(m.step, run.totalSteps, m.stepMs),
      },
    });
  },
  setTotalSteps(totalSteps) {
    const run = get().run;
    set({ run: { ...run, totalSteps, etaSeconds: etaSeconds(run.step, totalSteps, run.stepMs) } });
  },
  setRunStep(step, loss) {
    const run = get().run;
    set({ run: { ...run, step, loss: loss ?? run.loss, smoothedLoss: loss ?? run.smoothedLoss, etaSeconds: etaSeconds(step, run.totalSteps, run.stepMs) } });
  },
  setRunError(error) {
    set({ run: { ...get().run, status: 'stopped', activity: null, error } });
  },
  resetRun(totalSteps) {
    set({ run: { ...initialRun(totalSteps), runId: get().run.runId } });
  },
});
