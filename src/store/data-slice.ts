// Data slice: the worker's summary of the loaded dataset (counts, classes, skipped files with
// reasons, decode progress) and what is happening while a dataset loads.
import type { StateCreator } from 'zustand';
import type { DatasetSummary, ProgressEvent } from '../worker/protocol.ts';

export type DataStatus = 'empty' | 'loading' | 'ready' | 'error';

export interface DataSlice {
  dataset: DatasetSummary | null;
  dataStatus: DataStatus;
  /** What is loading ("Reading folder…"). */
  dataMessage: string | null;
  dataProgress: ProgressEvent | null;
  dataError: string | null;
  /** A folder, zip or checkpoint the user handed over before the engine could take it ("… will load as soon as the engine is ready"). */
  dataQueued: string | null;
  setDataQueued(message: string | null): void;
  setDataLoading(message: string): void;
  setDataProgress(progress: ProgressEvent | null): void;
  setDataset(summary: DatasetSummary): void;
  setDataError(message: string): void;
}

export const createDataSlice: StateCreator<DataSlice, [], [], DataSlice> = (set, get) => ({
  dataset: null,
  dataStatus: 'empty',
  dataMessage: null,
  dataProgress: null,
  dataError: null,
  dataQueued: null,
  setDataQueued(dataQueued) {
    set({ dataQueued });
  },
  setDataLoading(message) {
    set({ dataStatus: 'loading', dataMessage: message, dataError: null, dataProgress: null });
  },
  setDataProgress(dataProgress) {
    set({ dataProgress });
  },
  setDataset(dataset) {
    // summaries stream in while images decode: ignore stale revisions of the same dataset
    const cur = get().dataset;
    if (cur && cur.name === dataset.name && cur.source === dataset.source && cur.revision > dataset.revision && get().dataStatus === 'ready') return;
    set({ dataset, dataStatus: 'ready', dataMessage: null, dataError: null, dataProgress: null });
  },
  setDataError(message) {
    // a failed drop keeps the previous dataset usable
    set({ dataStatus: get().dataset ? 'ready' : 'error', dataMessage: null, dataError: message, dataProgress: null });
  },
});
