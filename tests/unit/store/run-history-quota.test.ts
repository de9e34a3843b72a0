// Run history when the browser's storage is full: IndexedDB refuses a run with
// QuotaExceededError (here a small in-memory database with a byte quota that behaves as browsers
// do: the put request succeeds, the transaction aborts). The write is reported as a
// RunHistoryQuotaError whose message names the run and says what is kept and what to do; the
// runs stored before are all still there, and a later run that fits is stored.
import { describe, expect, it } from 'vitest';
import { RunHistoryDb, RunHistoryQuotaError, historyErrorOf, type RunRecord } from '../../../src/store/run-history.ts';
import { defaultSettings } from '../../../src/store/settings.ts';

/** An IndexedDB database of one object store that aborts a write taking it past `quotaBytes`. */
function quotaDatabase(quotaBytes: number): IDBDatabase {
  const rows = new Map<string, RunRecord>();
  const bytes = (r: RunRecord) => JSON.stringify(r).length;
  const later = (fn: () => void) => setTimeout(fn, 0);
  return {
    transaction() {
      const tx = { error: null as DOMException | null, oncomplete: null as null | (() => void), onabort: null as null | (() => void), onerror: null as null | (() => void) };
      const request = <T>(work: () => T) => {
        const req = { result: undefined as T | undefined, error: null, onsuccess: null as null | (() => void), onerror: null as null | (() => void) };
        later(() => {
          req.result = work();
          req.onsuccess?.();
          later(() => (tx.error ? tx.onabort?.() : tx.oncomplete?.()));
        });
        return req;
      };
      return Object.assign(tx, {
        objectStore: () => ({
          put: (run: RunRecord) =>
            request(() => {
              const used = [...rows.values()].filter((r) => r.id !== run.id).reduce((a, r) => a + bytes(r), 0);
              if (used + bytes(run) > quotaBytes) tx.error = new DOMException('The quota has been exceeded.', 'QuotaExceededError');
              else rows.set(run.id, structuredClone(run));
              return run.id;
            }),
          getAll: () => request(() => [...rows.values()]),
          delete: (id: string) => request(() => void rows.delete(id)),
        }),
      });
    },
    close() {},
  } as unknown as IDBDatabase;
}

function run(id: string, steps: number): RunRecord {
  const step = Array.from({ length: steps }, (_, i) => i + 1);
  return { id, name: `run ${id}`, createdAt: Number(id.replace(/\D/g, '')), settings: defaultSettings(), dataset: { name: 'demo', images: 90 }, steps, finalLoss: 0.5, smoothedLoss: 0.5, meanImagesPerSec: 10, wallSeconds: 1, curves: { step, loss: step.map(() => 0.5), lr: step.map(() => 1e-4), imagesPerSec: step.map(() => 10) } };
}

describe('run history with the storage full', () => {
  it('refuses the run that does not fit with its own message and keeps every stored run', async () => {
    const db = new RunHistoryDb(quotaDatabase(6000));
    await db.put(run('r1', 20));
    await db.put(run('r2', 20));
    const error = await db.put(run('r3', 200)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(RunHistoryQuotaError);
    expect((error as Error).message).toMatch(/storage for this page is full \(QuotaExceededError\): run "run r3" was not saved/);
    expect((error as Error).message).toMatch(/runs already stored are kept/);
    expect((await db.list()).map((r) => r.id)).toEqual(['r1', 'r2']);
    // a smaller run still fits afterwards
    await db.put(run('r4', 5));
    expect((await db.list()).map((r) => r.id)).toEqual(['r1', 'r2', 'r4']);
  });

  it('other IndexedDB failures keep the generic message', () => {
    const e = historyErrorOf(new DOMException('disk I/O', 'UnknownError'), 'run "x"');
    expect(e).not.toBeInstanceOf(RunHistoryQuotaError);
    expect(e.message).toBe('IndexedDB: disk I/O (run "x")');
  });
});
