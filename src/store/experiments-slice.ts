// Experiments slice: the mask-ratio sweep in progress and the run history (persisted by
// run-history.ts), with the runs chosen for comparison.
import type { StateCreator } from 'zustand';
import type { RunRecord } from './run-history.ts';
import type { SweepEvaluation } from './settings.ts';

export type SweepStatus = 'idle' | 'running' | 'finished' | 'cancelled' | 'failed';

export interface SweepState {
  status: SweepStatus;
  sweepId: string | null;
  /** The mask ratio of each run (the sweep may vary another setting). */
  ratios: number[];
  /** Each run's name ("mask 0.6", "GRN off"). */
  names: string[];
  /** The measurement that ends each run. */
  evaluation: SweepEvaluation;
  /** Of the run in progress. */
  phase: 'training' | 'evaluating';
  steps: number;
  /** Index of the run in progress (or the last one finished). */
  index: number;
  /** Ids of the runs recorded so far, in ratio order. */
  runIds: string[];
  error: string | null;
  /** Common evaluation mask ratio of the side-by-side reconstructions. */
  evalMaskRatio: number;
}

export interface ExperimentsSlice {
  sweep: SweepState;
  runs: RunRecord[];
  /** Runs ticked for comparison. */
  compareIds: string[];
  historyError: string | null;
  setSweep(patch: Partial<SweepState>): void;
  setRuns(runs: RunRecord[]): void;
  addRun(run: RunRecord): void;
  removeRun(id: string): void;
  toggleCompare(id: string): void;
  setCompare(ids: string[]): void;
  setHistoryError(message: string | null): void;
}

export const IDLE_SWEEP: SweepState = { status: 'idle', sweepId: null, ratios: [], names: [], evaluation: 'none', phase: 'training', steps: 0, index: 0, runIds: [], error: null, evalMaskRatio: 0.6 };

export const createExperimentsSlice: StateCreator<ExperimentsSlice, [], [], ExperimentsSlice> = (set, get) => ({
  sweep: IDLE_SWEEP,
  runs: [],
  compareIds: [],
  historyError: null,
  setSweep(patch) {
    set({ sweep: { ...get().sweep, ...patch } });
  },
  setRuns(runs) {
    const ids = new Set(runs.map((r) => r.id));
    set({ runs, compareIds: get().compareIds.filter((id) => ids.has(id)) });
  },
  addRun(run) {
    set({ runs: [...get().runs.filter((r) => r.id !== run.id), run] });
  },
  removeRun(id) {
    set({ runs: get().runs.filter((r) => r.id !== id), compareIds: get().compareIds.filter((c) => c !== id) });
  },
  toggleCompare(id) {
    const c = get().compareIds;
    set({ compareIds: c.includes(id) ? c.filter((x) => x !== id) : [...c, id] });
  },
  setCompare(compareIds) {
    set({ compareIds });
  },
  setHistoryError(historyError) {
    set({ historyError });
  },
});
