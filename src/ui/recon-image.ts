// Pixels of a ReconstructionResult for the page: one image's panel as ImageData (a view into
// the packed transferred array, no copy), the patch mask as a small picture, and a PNG of the
// whole grid (rows = images; original | masked | reconstruction | pasted) for the run history.
import type { ReconstructionResult } from '../worker/protocol.ts';

export type PanelKind = 'original' | 'masked' | 'reconstruction' | 'pasted';
export const PANEL_KINDS: readonly PanelKind[] = ['original', 'masked', 'reconstruction', 'pasted'];

export function imageCount(r: ReconstructionResult): number {
  return r.indices.length;
}

/** Panel `kind` of image `i` (S × S RGBA). */
export function panelImage(r: ReconstructionResult, kind: PanelKind, i: number): ImageData {
  const S = r.size;
  const plane = S * S * 4;
  const data = r[kind].subarray(i * plane, (i + 1) * plane);
  return new ImageData(data as Uint8ClampedArray<ArrayBuffer>, S, S);
}

/** The mask of image `i` as gridW × gridH pixels: dark = masked, light = visible. */
export function maskImage(r: ReconstructionResult, i: number): ImageData {
  const L = r.gridH * r.gridW;
  const out = new Uint8ClampedArray(L * 4);
  for (let p = 0; p < L; p++) {
    const masked = r.mask[i * L + p] === 1;
    const v = masked ? 40 : 235;
    out.set([v, v, v, 255], p * 4);
  }
  return new ImageData(out, r.gridW, r.gridH);
}

/** A PNG of every image's four panels side by side (2 px gaps). */
export async function reconstructionPng(r: ReconstructionResult): Promise<Blob> {
  const S = r.size;
  const gap = 2;
  const n = imageCount(r);
  const canvas = new OffscreenCanvas(PANEL_KINDS.length * (S + gap) - gap, n * (S + gap) - gap);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context for the reconstruction PNG');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < n; i++) PANEL_KINDS.forEach((k, j) => ctx.putImageData(panelImage(r, k, i), j * (S + gap), i * (S + gap)));
  return canvas.convertToBlob({ type: 'image/png' });
}
