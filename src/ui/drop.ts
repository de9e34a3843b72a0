// What a drop (or a chosen file) means: a checkpoint file loads weights, a zip or a folder of
// images replaces the dataset. Entries must be taken from the DataTransfer synchronously inside
// the drop event, so classification reads names only and the walking happens afterwards.
import { collectDropEntries, filesFromDataTransfer } from '../data/browser-folder.ts';
import type { EngineBridge } from './engine-bridge.ts';

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

/** Handle a drop event's DataTransfer (call synchronously from the event handler). */
export function handleDrop(dt: DataTransfer, bridge: EngineBridge): DropKind {
  const collected = collectDropEntries(dt);
  const names = [...collected.entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory })), ...collected.files.map((f) => ({ name: f.name, isDirectory: false }))];
  const kind = classifyDrop(names);
  const single = async (): Promise<File | null> => {
    if (collected.files[0]) return collected.files[0];
    const entry = collected.entries[0] as FileSystemFileEntry | undefined;
    return entry ? new Promise<File>((resolve, reject) => entry.file(resolve, reject)) : null;
  };
  if (kind === 'checkpoint') {
    void single().then((f) => f && bridge.loadCheckpoint(f));
  } else if (kind === 'zip') {
    void single().then((f) => f && bridge.loadZip(f));
  } else if (kind === 'images') {
    bridge.store.getState().setDataLoading('Reading the dropped folder…');
    void filesFromDataTransfer(collected).then(
      (listing) => bridge.loadListing(listing),
      (e) => bridge.store.getState().setDataError(`The drop could not be read: ${(e as Error).message}`),
    );
  }
  return kind;
}
