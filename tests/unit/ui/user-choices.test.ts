// The user's data choice wins: what is handed over before the engine is ready waits (and the
// page says so), a later data set replaces an earlier one still waiting, everything waiting is
// applied in order once the engine opens the queue, nothing is lost when the engine never comes
// (the reason is shown); the choice makers call the right bridge method.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../src/store/store.ts';
import { checkpointChoice, demoChoice, listingChoice, zipChoice } from '../../../src/ui/drop.ts';
import { UserChoices, type ChoiceTarget, type UserChoice } from '../../../src/ui/user-choices.ts';
import { progressView, cacheView } from '../../../src/ui/data-progress.ts';

/** A bridge stand-in that records what it was asked to load. */
function fakeBridge(store = createAppStore()) {
  const calls: string[] = [];
  const bridge = {
    store,
    loadListing: async (l: { name: string }) => void calls.push(`listing ${l.name}`),
    loadDirectoryHandle: async (h: { name: string }) => void calls.push(`directory ${h.name}`),
    loadZip: async (f: File) => void calls.push(`zip ${f.name}`),
    loadDemo: async () => void calls.push('demo'),
    loadCheckpoint: async (f: File) => void calls.push(`checkpoint ${f.name}`),
  };
  return { bridge: bridge as unknown as ChoiceTarget, calls };
}

const listing = (name: string) => ({ name, files: [], unreadable: [] });
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('UserChoices', () => {
  it('queues what comes before the engine is ready, says so, and applies it in order once opened', async () => {
    const store = createAppStore();
    const choices = new UserChoices(store);
    const { bridge, calls } = fakeBridge(store);
    expect(choices.dataChosen).toBe(false);
    choices.submit(checkpointChoice(new File(['x'], 'run.safetensors')));
    expect(store.getState().checkpointReport?.title).toBe('Your checkpoint run.safetensors will load as soon as the engine is ready.');
    expect(choices.dataChosen).toBe(false); // weights are not a data set: the demo set may still load
    choices.submit(listingChoice('cats', listing('cats')));
    expect(choices.dataChosen).toBe(true);
    expect(store.getState().dataQueued).toBe('Your folder cats will load as soon as the engine is ready.');
    // a second data set before the engine is ready replaces the first (as loading it would)
    choices.submit(zipChoice(new File(['z'], 'dogs.zip')));
    expect(choices.pending.map((c) => c.what)).toEqual(['Your checkpoint run.safetensors', 'Your zip dogs.zip']);
    expect(calls).toEqual([]);
    choices.openTo(bridge);
    await settle();
    expect(calls).toEqual(['checkpoint run.safetensors', 'zip dogs.zip']);
    expect(store.getState().dataQueued).toBeNull();
    // from now on choices go straight through
    choices.submit(demoChoice());
    await settle();
    expect(calls).toEqual(['checkpoint run.safetensors', 'zip dogs.zip', 'demo']);
    expect(choices.pending).toEqual([]);
  });

  it('when the engine never comes, the waiting data set gets the reason instead of silence', () => {
    const store = createAppStore();
    const choices = new UserChoices(store);
    choices.submit(listingChoice('cats', listing('cats')));
    choices.fail('WebGPU is not available in this browser');
    expect(store.getState().dataQueued).toBeNull();
    expect(store.getState().dataError).toBe('Your folder cats cannot load: WebGPU is not available in this browser');
    choices.submit(zipChoice(new File(['z'], 'dogs.zip')));
    expect(store.getState().dataError).toBe('Your zip dogs.zip cannot load: WebGPU is not available in this browser');
  });

  it('a folder whose walk fails reports why and keeps the previous data set', async () => {
    const store = createAppStore();
    const choices = new UserChoices(store);
    const { bridge } = fakeBridge(store);
    choices.openTo(bridge);
    const failing: UserChoice = listingChoice('broken', Promise.reject(new Error('NotReadableError: gone')));
    choices.submit(failing);
    await settle();
    expect(store.getState().dataError).toBe('The drop could not be read: NotReadableError: gone');
  });

  it('a folder still being walked when a newer data set is chosen never replaces it', async () => {
    const store = createAppStore();
    const choices = new UserChoices(store);
    const { bridge, calls } = fakeBridge(store);
    choices.openTo(bridge);
    let finishWalk: (l: ReturnType<typeof listing>) => void = () => {};
    choices.submit(listingChoice('slow', new Promise((r) => (finishWalk = r))));
    choices.submit(zipChoice(new File(['z'], 'dogs.zip')));
    await settle();
    finishWalk(listing('slow'));
    await settle();
    expect(calls).toEqual(['zip dogs.zip']);
  });
});

describe('data panel wording', () => {
  it('progress: a count with its total and a fraction, or a running count while the total is unknown', () => {
    expect(progressView({ type: 'progress', task: 'index', done: 4210, total: 10000 })).toEqual({ text: 'Indexing 4,210 / 10,000', fraction: 0.421 });
    expect(progressView({ type: 'progress', task: 'walk', done: 1234, total: 0 })).toEqual({ text: 'Listing 1,234 files', fraction: null });
    expect(progressView({ type: 'progress', task: 'decode', done: 10, total: 10 })).toEqual({ text: 'Decoding 10 / 10', fraction: 1 });
    expect(progressView({ type: 'progress', task: 'unzip', done: 0, total: 1 }).text).toBe('Unpacking the zip');
  });

  it('cache: used / budget, and the spill when there is one', () => {
    const stats = { memoryBytes: 12.5 * 2 ** 20, memoryBudgetBytes: 512 * 2 ** 20, memoryEntries: 1234, spilledEntries: 0, spilledBytes: 0, hits: 0, misses: 0, decodes: 1234 };
    expect(cacheView(stats)).toBe('12.5 MiB / 512.0 MiB in memory (1,234 images)');
    expect(cacheView({ ...stats, spilledEntries: 20, spilledBytes: 3 * 2 ** 20 })).toBe('12.5 MiB / 512.0 MiB in memory (1,234 images), 3.0 MiB spilled to disk (20 images)');
  });
});
