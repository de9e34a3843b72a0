// The dedicated worker that owns the GPU device. This is the only place that calls
// comlink.expose; the page drives it through EngineWorkerApi (protocol.ts). The work itself is
// in TrainingSession (session.ts); this file wires cancellation ids, transfers and errors.
import * as Comlink from 'comlink';
import { bundledShaders } from '../gpu/shader-library-vite.ts';
import { serialisableError } from './errors.ts';
import type { EngineWorkerApi, WorkerEvent, WorkerEventListener } from './protocol.ts';
import { TrainingSession } from './session.ts';

// Comlink sends only name/message/stack of a thrown Error; keep kind/suggestion/details too, so
// the page receives every rejection as a WorkerError (protocol.ts isWorkerError).
const throwHandler = Comlink.transferHandlers.get('throw')!;
Comlink.transferHandlers.set('throw', {
  canHandle: throwHandler.canHandle,
  serialize(thrown: unknown) {
    const value = (thrown as { value: unknown }).value;
    if (!(value instanceof Error)) return throwHandler.serialize(thrown);
    const e = serialisableError(value) as Error & { kind: string; suggestion: string; details?: Record<string, unknown> };
    return [{ isError: true, value: { message: e.message, name: e.name, stack: e.stack, kind: e.kind, suggestion: e.suggestion, details: e.details } }, []];
  },
  deserialize: throwHandler.deserialize,
});

function deliver(listener: WorkerEventListener, event: WorkerEvent, transfer: Transferable[]): void {
  try {
    // A listener whose page went away rejects; nothing to do about it here.
    void Promise.resolve(listener(transfer.length ? Comlink.transfer(event, transfer) : event)).catch(() => {});
  } catch {
    /* the proxy was released */
  }
}

const session = new TrainingSession(
  bundledShaders,
  deliver,
  () => (self.navigator as Navigator & { gpu?: GPU }).gpu,
  new URL(import.meta.env.BASE_URL, self.location.origin).href,
);
const run = session.cancels.run.bind(session.cancels);

const api: EngineWorkerApi = {
  init: () => session.init(),
  matmulSelfTest: (M, N, K, seed) => session.matmulSelfTest(M, N, K, seed),
  subscribe: async (listener) => session.subscribe(listener),
  unsubscribe: async (id) => session.unsubscribe(id),
  cancel: async (id) => session.cancels.cancel(id),
  status: async () => session.status(),
  setPageVisible: async (visible) => session.setPageVisible(visible),
  loadDemo: (o = {}) => run(o.cancelId, (s) => session.loadDemo(o, s)),
  loadFiles: (listing, o = {}) => run(o.cancelId, (s) => session.loadListing(listing, 'files', o, s)),
  loadDirectory: (handle, o = {}) => run(o.cancelId, (s) => session.loadDirectory(handle, o, s)),
  loadZip: (zip, name, o = {}) => run(o.cancelId, (s) => session.loadZip(zip, name, o, s)),
  dataset: async () => session.datasetSummary(),
  thumbnails: async (request, o = {}) => {
    const t = await run(o.cancelId, (s) => session.thumbnails(request, s));
    return Comlink.transfer(t, [t.rgba.buffer]);
  },
  setConfig: (config, o = {}) => run(o.cancelId, (s) => session.setConfig(config, o, s)),
  start: (o) => session.start(o),
  pause: () => session.pause(),
  resume: (o) => session.start(o),
  step: (o = {}) => run(o.cancelId, (s) => session.step(s)),
  runSteps: (count, o = {}) => run(o.cancelId, (s) => session.runSteps(count, s)),
  reset: (o = {}) => run(o.cancelId, (s) => session.reset(o.seed, s)),
  reconstruct: async (request) => {
    const r = await run(request.cancelId, (s) => session.reconstruct(request, s));
    return Comlink.transfer(r, [r.original.buffer, r.masked.buffer, r.reconstruction.buffer, r.pasted.buffer, r.mask.buffer]);
  },
  finetune: (request) => run(request.cancelId, (s) => session.finetune(request, s)),
  embed: async (request) => {
    const r = await run(request.cancelId, (s) => session.embed(request, s));
    return Comlink.transfer(r, [r.features.buffer, r.labels.buffer]);
  },
  probe: (request) => run(request.cancelId, (s) => session.probe(request, s)),
  collapse: (request) => run(request.cancelId, (s) => session.collapse(request, s)),
  activationGrid: async (request) => {
    const r = await run(request.cancelId, (s) => session.activationGrid(request, s));
    return Comlink.transfer(r, [r.current.maps.buffer, ...(r.baseline ? [r.baseline.maps.buffer] : [])]);
  },
  setKnnTracking: async (tracking) => session.setKnnTracking(tracking),
  saveCheckpoint: async (format, o = {}) => {
    const c = await run(o.cancelId, (s) => session.saveCheckpoint(format, s));
    return Comlink.transfer(c, [c.bytes.buffer]);
  },
  loadCheckpoint: (bytes, fileName, o = {}) => run(o.cancelId, (s) => session.loadCheckpoint(bytes, fileName, o, s)),
  restoreRun: (snapshot) => run(undefined, (s) => session.restoreRun(snapshot, s)),
  injectFault: (fault) => session.injectFault(fault),
  dispose: () => session.dispose(),
};

Comlink.expose(api);
