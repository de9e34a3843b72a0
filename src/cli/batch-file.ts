// The batch file `grads` and `bench --batch` read: a safetensors file with `imgs` (N, 3, H, W),
// normalised, and `mask` (N, L), 1 = masked, 0 = visible, as the official masking code makes
// them. The visible count of its samples is the plan's key, taken as is (never via a ratio).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseSafetensors } from '../io/safetensors.ts';
import { UsageError } from './args.ts';

export interface LoadedBatch {
  imgs: Float32Array;
  mask: Float32Array;
  N: number;
  height: number;
  width: number;
  L: number;
  /** Patches every sample keeps visible. */
  visible: number;
}

/** "0, 2, 5" or "0, 2, 5, … (12 in all)" */
function sampleList(samples: number[]): string {
  const shown = samples.slice(0, 8).join(', ');
  return samples.length > 8 ? `${shown}, … (${samples.length} in all)` : shown;
}

/** Reads and validates a batch file: imgs (N,3,H,W) normalised, mask (N,L) 1 = masked. */
export function readBatchFile(path: string): LoadedBatch {
  const name = basename(path);
  const file = parseSafetensors(new Uint8Array(readFileSync(path)), { source: name });
  const imgs = file.tensors.get('imgs');
  const mask = file.tensors.get('mask');
  if (!imgs) throw new UsageError(`${name}: no tensor 'imgs' (N, 3, H, W)`);
  if (!mask) throw new UsageError(`${name}: no tensor 'mask' (N, L)`);
  if (imgs.shape.length !== 4 || imgs.shape[1] !== 3) throw new UsageError(`${name}: imgs has shape (${imgs.shape}), expected (N, 3, H, W)`);
  const [N, , height, width] = imgs.shape as [number, number, number, number];
  if (N < 1) throw new UsageError(`${name}: imgs holds no samples`);
  if (height % 32 || width % 32) throw new UsageError(`${name}: imgs is ${height}×${width}; both sides must be multiples of 32`);
  const L = (height / 32) * (width / 32);
  if (mask.shape.length !== 2 || mask.shape[0] !== N || mask.shape[1] !== L) throw new UsageError(`${name}: mask has shape (${mask.shape}), expected (${N}, ${L})`);
  const samplesByVisible = new Map<number, number[]>();
  for (let n = 0; n < N; n++) {
    let visible = 0;
    for (let p = 0; p < L; p++) {
      const v = mask.data[n * L + p]!;
      if (v !== 0 && v !== 1) throw new UsageError(`${name}: mask[${n}, ${p}] = ${v}; entries must be 0 or 1`);
      visible += 1 - v;
    }
    const group = samplesByVisible.get(visible);
    if (group) group.push(n);
    else samplesByVisible.set(visible, [n]);
  }
  if (samplesByVisible.size > 1) {
    const groups = [...samplesByVisible].sort((a, b) => b[1].length - a[1].length || a[0] - b[0]);
    const listed = groups.map(([v, samples]) => `${v} of ${L} visible in sample${samples.length > 1 ? 's' : ''} ${sampleList(samples)}`).join('; ');
    throw new UsageError(`${name}: the samples keep different numbers of patches (${listed}); FCMAE's sparse encoder needs the same visible count in every sample of a batch`);
  }
  const visible = samplesByVisible.keys().next().value!;
  if (visible === 0) throw new UsageError(`${name}: every patch of every sample is masked; at least one per sample must stay visible`);
  return { imgs: imgs.data, mask: mask.data, N, height, width, L, visible };
}

export interface LabelledBatch {
  imgs: Float32Array;
  labels: Int32Array;
  N: number;
  height: number;
  width: number;
}

/**
 * Reads a classification batch: `imgs` (N, 3, H, W) normalised and `labels` (N) class indices
 * (int64, int32, or float holding integers). `numClasses`, when known, bounds the labels.
 */
export function readLabelledBatchFile(path: string, numClasses: number | null = null): LabelledBatch {
  const name = basename(path);
  const file = parseSafetensors(new Uint8Array(readFileSync(path)), { source: name });
  const imgs = file.tensors.get('imgs');
  const labels = file.tensors.get('labels');
  if (!imgs) throw new UsageError(`${name}: no tensor 'imgs' (N, 3, H, W)`);
  if (!labels) throw new UsageError(`${name}: no tensor 'labels' (N)`);
  if (imgs.shape.length !== 4 || imgs.shape[1] !== 3) throw new UsageError(`${name}: imgs has shape (${imgs.shape}), expected (N, 3, H, W)`);
  const [N, , height, width] = imgs.shape as [number, number, number, number];
  if (N < 1) throw new UsageError(`${name}: imgs holds no samples`);
  if (height % 32 || width % 32 || height < 32 || width < 32) throw new UsageError(`${name}: imgs is ${height}×${width}; both sides must be multiples of 32`);
  if (labels.shape.length !== 1 || labels.shape[0] !== N) throw new UsageError(`${name}: labels has shape (${labels.shape}), expected (${N})`);
  const out = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const y = labels.data[i]!;
    if (!Number.isInteger(y) || y < 0) throw new UsageError(`${name}: labels[${i}] = ${y}; labels must be class indices ≥ 0`);
    if (numClasses !== null && y >= numClasses) throw new UsageError(`${name}: labels[${i}] = ${y}, but the head has ${numClasses} classes (0..${numClasses - 1})`);
    out[i] = y;
  }
  return { imgs: imgs.data, labels: out, N, height, width };
}
