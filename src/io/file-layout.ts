// Tensors (gradients, updated weights) written back in a checkpoint's own names, shapes and
// layouts, so a researcher compares them with their library's autograd name by name.
import type { OpenedCheckpoint } from './checkpoint.ts';
import { fromCanonical, type NamedTensor } from './name-schemes.ts';

export interface FileLayoutTensors {
  /** In the file's order first, then the tensors the file does not have (under the scheme's names). */
  tensors: Map<string, NamedTensor>;
  /** Names (in the file's scheme) of tensors the file lacks or holds at another size, e.g. a head initialised for fine-tuning. */
  notInFile: string[];
}

/**
 * `canonical` tensors renamed and reshaped as `ckpt` holds them (size-1 axes as in the file;
 * wrapper prefixes kept). Tensors the file lacks, or holds at another size, keep the scheme's
 * name and the engine's shape and are listed in `notInFile`.
 */
export function inFileLayout(canonical: ReadonlyMap<string, NamedTensor>, ckpt: Pick<OpenedCheckpoint, 'scheme' | 'original' | 'fileName'>): FileLayoutTensors {
  const written = fromCanonical(canonical, ckpt.scheme).tensors;
  const originalName = (name: string): string | null => {
    for (const candidate of [name, `module.${name}`, name.replace(/^convnextv2\./, ''), `module.${name.replace(/^convnextv2\./, '')}`]) {
      if (ckpt.original.has(candidate)) return candidate;
    }
    return null;
  };
  const found = new Map<string, NamedTensor>();
  const others = new Map<string, NamedTensor>();
  for (const [name, t] of written) {
    const original = originalName(name);
    if (!original) {
      others.set(name, t);
      continue;
    }
    const shape = ckpt.original.get(original)!.shape;
    // another size in the file (a head re-initialised for another class count): the engine's shape
    if (shape.reduce((a, b) => a * b, 1) !== t.data.length) others.set(original, t);
    else found.set(original, { shape: [...shape], data: t.data });
  }
  const tensors = new Map<string, NamedTensor>();
  for (const name of ckpt.original.keys()) {
    const t = found.get(name);
    if (t) tensors.set(name, t);
  }
  for (const [name, t] of others) tensors.set(name, t);
  return { tensors, notInFile: [...others.keys()] };
}
