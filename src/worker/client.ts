// Page side of the engine worker: starts it and wraps it with comlink.
import * as Comlink from 'comlink';
import type { EngineWorkerApi } from './protocol.ts';

export function startEngineWorker(): { api: Comlink.Remote<EngineWorkerApi>; worker: Worker } {
  const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'fcmae-engine' });
  return { api: Comlink.wrap<EngineWorkerApi>(worker), worker };
}
