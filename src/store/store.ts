// The app store, built from slices; actions are callable outside React (worker callbacks).
import { create } from 'zustand';
import { createGpuSlice, type GpuSlice } from './gpu-slice.ts';

export type AppState = GpuSlice;

export const useAppStore = create<AppState>()((...a) => ({
  ...createGpuSlice(...a),
}));
