// One entry point for every checkpoint file: sniff the container (safetensors or PyTorch
// zip/legacy pickle), detect the name scheme, and map it to canonical names and dense shapes.
// Nothing here touches the GPU or the current model: a bad file fails before anything changes.
import { looksLikeZip, CheckpointError } from './zip.ts';
import { readTorchCheckpoint } from './pytorch.ts';
import { parseSafetensors } from './safetensors.ts';
import { toCanonical, type CanonicalLoad, type CheckpointModelConfig, type NamedTensor, type NameScheme } from './name-schemes.ts';

export type ContainerFormat = 'safetensors' | 'pytorch';

export interface OpenedCheckpoint extends CanonicalLoad {
  fileName: string;
  container: ContainerFormat;
  /** The file's own tensors by their own names (needed to answer in the file's layout). */
  original: Map<string, NamedTensor>;
  /** safetensors __metadata__ (empty for PyTorch files). */
  metadata: Record<string, string>;
  /** PyTorch top-level extras (epoch, args...). */
  extra: Record<string, unknown>;
}

/** safetensors starts with a little-endian u64 header length followed by '{'. */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  return n > 1 && n <= bytes.length - 8 && bytes[8] === 0x7b;
}

export function openCheckpoint(bytes: Uint8Array, fileName: string, options: { current?: CheckpointModelConfig; scheme?: NameScheme } = {}): OpenedCheckpoint {
  let original: Map<string, NamedTensor>;
  let container: ContainerFormat;
  let metadata: Record<string, string> = {};
  let extra: Record<string, unknown> = {};
  if (looksLikeSafetensors(bytes)) {
    const file = parseSafetensors(bytes, { source: fileName });
    original = new Map([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    metadata = file.metadata;
    container = 'safetensors';
  } else if (looksLikeZip(bytes) || bytes[0] === 0x80) {
    const ckpt = readTorchCheckpoint(bytes, fileName);
    original = new Map([...ckpt.stateDict].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    extra = ckpt.extra;
    container = 'pytorch';
  } else {
    throw new CheckpointError(fileName, 'not-a-checkpoint', 'neither a safetensors file nor a PyTorch checkpoint (zip or legacy pickle)');
  }
  const canonical = toCanonical(original, { fileName, current: options.current, scheme: options.scheme });
  return { ...canonical, fileName, container, original, metadata, extra };
}
