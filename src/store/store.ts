// The app store, built from slices; actions are callable outside React (worker callbacks)
// through useAppStore.getState(). `createAppStore` makes an independent store for tests.
import { create } from 'zustand';
import { createDataSlice, type DataSlice } from './data-slice.ts';
import { createEvaluationSlice, type EvaluationSlice } from './evaluation-slice.ts';
import { createExperimentsSlice, type ExperimentsSlice } from './experiments-slice.ts';
import { createGpuSlice, type GpuSlice } from './gpu-slice.ts';
import { createReconSlice, type ReconSlice } from './recon-slice.ts';
import { createSettingsSlice, type SettingsSlice } from './settings-slice.ts';
import { createTrainingSlice, type TrainingSlice } from './training-slice.ts';

export type AppState = GpuSlice & SettingsSlice & TrainingSlice & DataSlice & ReconSlice & ExperimentsSlice & EvaluationSlice;

export function createAppStore() {
  return create<AppState>()((...a) => ({
    ...createGpuSlice(...a),
    ...createSettingsSlice(...a),
    ...createTrainingSlice(...a),
    ...createDataSlice(...a),
    ...createReconSlice(...a),
    ...createExperimentsSlice(...a),
    ...createEvaluationSlice(...a),
  }));
}

export const useAppStore = createAppStore();
export type AppStore = typeof useAppStore;
