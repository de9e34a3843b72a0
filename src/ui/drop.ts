// What a drop (or a chosen file) means: a checkpoint file loads weights, a zip or a folder of
// images replaces the dataset. Entries must be taken from the DataTransfer synchronously inside
// the drop event, so classification reads names only and the walking happens afterwards. Every
// drop becomes a user choice (user-choices.ts): taken at once when the engine is ready, else
// queued — never lost, never replaced by the start-up demo set.
//
// A single dropped folder goes to the worker as a FileSystemDirectoryHandle where Chromium gives
// one (getAsFileSystemHandle), so listing it costs the page nothing; elsewhere (several items,
// other browsers) the entries are walked here in time slices (browser-folder.ts).
import { collectDropEntries, filesFromDataTransfer, type DropEntries, type FolderListing } from '../data/browser-folder.ts';
import type { UserChoice, UserChoices } from './user-choices.ts';

const CHECKPOINT_RE = /\.(safetensors|pth|pt|ckpt|bin)$/i;
const ZIP_RE = /\.zip$/i;

export type DropKind = 'checkpoint' | 'zip' | 'images' | 'nothing';

/** Decide from names alone: one checkpoint file, one zip, or images/folders. */
export function classifyDrop(names: readonly { name: string; isDirectory: boolean }[]): DropKind {
  if (names.length === 0) return 'nothing';
  if (names.length === 1 && !names[0]!.isDirectory) {
    if (CHECKPOINT_RE.test(names[0]!.name)) return 'checkpoint';
    if (ZIP_RE.test(names[0]!.name)) return 'zip';
  }
  return 'images';
}

/** A data set the user chose: a listing walked on the page (or still being walked). */
export function listingChoice(name: string, listing: Promise<FolderListing> | FolderListing): UserChoice {
  return {
    kind: 'data',
    what: `Your folder ${name}`,
    apply: async (bridge, stillWanted) => {
      let walked: FolderListing;
      try {
        walked = await listing;
      } catch (e) {
        if (stillWanted()) bridge.store.getState().setDataError(`The drop could not be read: ${(e as Error).message}`);
        return;
      }
      // a newer choice came while this folder was being walked: it stays the user's choice
      if (stillWanted()) await bridge.loadListing(walked);
    },
  };
}

export function directoryChoice(handle: FileSystemDirectoryHandle): UserChoice {
  return { kind: 'data', what: `Your folder ${handle.name}`, apply: (bridge) => bridge.loadDirectoryHandle(handle) };
}

export function zipChoice(file: File): UserChoice {
  return { kind: 'data', what: `Your zip ${file.name}`, apply: (bridge) => bridge.loadZip(file) };
}

export function demoChoice(): UserChoice {
  return { kind: 'data', what: 'The demo photos', apply: (bridge) => bridge.loadDemo() };
}

export function checkpointChoice(file: File): UserChoice {
  return { kind: 'checkpoint', what: `Your checkpoint ${file.name}`, apply: (bridge) => bridge.loadCheckpoint(file) };
}

/** One dropped folder as a directory handle (Chromium), else null. */
async function singleDirectoryHandle(collected: DropEntries): Promise<FileSystemDirectoryHandle | null> {
  if (!collected.handles || collected.entries.length !== 1 || collected.files.length > 0 || !collected.entries[0]!.isDirectory) return null;
  const handles = await collected.handles;
  const h = handles.length === 1 ? handles[0] : null;
  return h && h.kind === 'directory' ? (h as FileSystemDirectoryHandle) : null;
}

/** Handle a drop event's DataTransfer (call synchronously from the event handler). */
export function handleDrop(dt: DataTransfer, choices: UserChoices): DropKind {
  const collected = collectDropEntries(dt);
  const names = [...collected.entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory })), ...collected.files.map((f) => ({ name: f.name, isDirectory: false }))];
  const kind = classifyDrop(names);
  const single = async (): Promise<File | null> => {
    if (collected.files[0]) return collected.files[0];
    const entry = collected.entries[0] as FileSystemFileEntry | undefined;
    return entry ? new Promise<File>((resolve, reject) => entry.file(resolve, reject)) : null;
  };
  if (kind === 'checkpoint') {
    void single().then((f) => f && choices.submit(checkpointChoice(f)));
  } else if (kind === 'zip') {
    void single().then((f) => f && choices.submit(zipChoice(f)));
  } else if (kind === 'images') {
    const name = names.length === 1 ? names[0]!.name : 'dropped files';
    // Claimed at once (synchronously), so nothing the page does meanwhile replaces it.
    choices.dataChosen = true;
    const store = choices.store.getState();
    const walkHere = () => {
      store.setDataLoading(`Reading ${name}…`);
      const listing = filesFromDataTransfer(collected, { onProgress: (n) => choices.store.getState().setDataProgress({ type: 'progress', task: 'walk', done: n, total: 0 }) });
      choices.submit(listingChoice(name, listing));
    };
    void singleDirectoryHandle(collected).then((handle) => (handle ? choices.submit(directoryChoice(handle)) : walkHere()), walkHere);
  }
  return kind;
}
