// What the page keeps so that a dead engine worker costs nothing the user had, and how a new
// worker gets it back: the data set's source (the demo set, the dropped files, the zip, the
// directory handle: all still readable on the page), the settings (in the store), the curves
// (page-side, live-metrics.ts) and the latest known-good weights (the worker's 'snapshot'
// events). restartEngine starts a new worker, loads the same data, hands it the weights and
// the run id (restoreRun), and only then listens to it, so no event of the half-restored worker
// can clear the curves.
import { trainingConfigOf } from '../store/engine-config.ts';
import type { AppStore } from '../store/store.ts';
import { EngineClient } from '../worker/client.ts';
import type { DatasetSummary, FolderListing, KeptSnapshot, WorkerStatus } from '../worker/protocol.ts';

/** Where the current data set came from (to load it again in a new worker). */
export type DataSource =
  | { kind: 'demo' }
  | { kind: 'files'; listing: FolderListing }
  | { kind: 'directory'; handle: FileSystemDirectoryHandle }
  | { kind: 'zip'; file: File };

export interface RestartTarget {
  client: EngineClient;
  readonly store: AppStore;
  /** The latest good weights the old worker sent (null before any model). */
  kept: KeptSnapshot | null;
  dataSource: DataSource | null;
  /** Listen to the new client's events and watch it. */
  attach(client: EngineClient): Promise<void>;
  onStatus(status: WorkerStatus): void;
  reconstructView(): Promise<unknown>;
}

function loadAgain(client: EngineClient, source: DataSource): Promise<DatasetSummary> {
  switch (source.kind) {
    case 'demo':
      return client.loadDemo();
    case 'files':
      return client.loadFiles(source.listing);
    case 'directory':
      return client.loadDirectory(source.handle);
    case 'zip':
      return client.loadZip(source.file, source.file.name);
  }
}

/** Replaces a dead worker by a new one holding the same data, settings, weights, step and run id. */
export async function restartEngine(target: RestartTarget, why: string): Promise<void> {
  const s = () => target.store.getState();
  const said = `The engine worker stopped (${why})`;
  s().setRunError({ message: `${said}; starting a new one and restoring the run…`, canContinue: false });
  target.client.worker.terminate();
  const client = EngineClient.start();
  try {
    const gpu = await client.init();
    if (!gpu.ok) throw new Error(gpu.message);
    if (target.dataSource) s().setDataset(await loadAgain(client, target.dataSource));
    const kept = target.kept;
    let status: WorkerStatus;
    if (kept) {
      status = await client.restoreRun(kept);
      // settings changed since that snapshot (live ones, or ones waiting for a reset) go in as usual
      await client.setConfig(trainingConfigOf(s().settings), { allowReset: false }).catch(() => undefined);
      status = await client.status();
    } else {
      status = (await client.setConfig(trainingConfigOf(s().settings), { allowReset: true })).status;
    }
    target.client = client;
    await target.attach(client);
    target.onStatus(status);
    const from = status.step;
    s().setRunError({
      message: `${said} and was restarted: the settings, the data set${kept ? `, the weights of step ${from}` : ''} and the curves were kept`,
      advice: kept ? `Press Start to continue from step ${from}.` : 'Press Start to train.',
      canContinue: true,
      continuesFrom: kept ? from : undefined,
    });
    void target.reconstructView();
  } catch (e) {
    target.client = client;
    s().setRunError({ message: `${said} and a new one could not take over: ${(e as Error).message}`, advice: 'Reload the page; the settings are in its address and finished runs in the run history.', canContinue: false });
  }
}
