// Reconstruction slice: what the reconstruction view shows for its own mask ratio and seed
// (re-run on demand, no training needed), plus snapshots taken during training so a step
// slider can replay how reconstructions improved. Frames are the worker's
// ReconstructionResult as they arrive (packed RGBA panels, transferred, never copied).
import type { StateCreator } from 'zustand';
import type { ReconstructionResult } from '../worker/protocol.ts';

/**
 * Snapshots kept at most; beyond it every other older one is dropped (first and newest stay).
 * Each holds 4 panels of every evaluation image: 4 images at 160 px are 1.6 MB.
 */
export const MAX_SNAPSHOTS = 24;

export interface ReconSlice {
  /** The latest reconstruction (view mask ratio and seed). */
  live: ReconstructionResult | null;
  /** Training-time snapshots, increasing step, of the current run. */
  snapshots: ReconstructionResult[];
  /** Index into snapshots the step slider points at; null = follow the live frame. */
  snapshotIndex: number | null;
  reconPending: boolean;
  reconError: string | null;
  setLiveRecon(frame: ReconstructionResult, asSnapshot?: boolean): void;
  selectSnapshot(index: number | null): void;
  setReconPending(pending: boolean): void;
  setReconError(message: string | null): void;
  clearRecon(): void;
}

/** Append a snapshot keeping at most `max` (see MAX_SNAPSHOTS); a new run's frames replace an old run's. */
export function appendSnapshot<F extends { step: number; runId: number }>(list: readonly F[], frame: F, max = MAX_SNAPSHOTS): F[] {
  const kept = list.filter((f) => f.runId === frame.runId && f.step < frame.step);
  let next = [...kept, frame];
  if (next.length > max) next = next.filter((_, i) => i % 2 === 0 || i === next.length - 1);
  return next;
}

export const createReconSlice: StateCreator<ReconSlice, [], [], ReconSlice> = (set, get) => ({
  live: null,
  snapshots: [],
  snapshotIndex: null,
  reconPending: false,
  reconError: null,
  setLiveRecon(live, asSnapshot = false) {
    set({ live, reconPending: false, reconError: null, ...(asSnapshot ? { snapshots: appendSnapshot(get().snapshots, live) } : {}) });
  },
  selectSnapshot(snapshotIndex) {
    set({ snapshotIndex });
  },
  setReconPending(reconPending) {
    set({ reconPending });
  },
  setReconError(reconError) {
    set({ reconError, reconPending: false });
  },
  clearRecon() {
    set({ live: null, snapshots: [], snapshotIndex: null, reconPending: false, reconError: null });
  },
});
