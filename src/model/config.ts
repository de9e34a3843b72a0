// ConvNeXt V2 / FCMAE model configurations: the published sizes, custom ones, and the
// options of the FCMAE step. Pure data + validation; parameter lists live in parameters.ts.
import type { GeluForm } from '../ops/gelu.ts';

export type SizeName = 'atto' | 'femto' | 'pico' | 'nano' | 'tiny' | 'base' | 'large' | 'huge';

/** Published ConvNeXt V2 sizes (spec §3). */
export const MODEL_SIZES: Record<SizeName, { depths: number[]; dims: number[] }> = {
  atto: { depths: [2, 2, 6, 2], dims: [40, 80, 160, 320] },
  femto: { depths: [2, 2, 6, 2], dims: [48, 96, 192, 384] },
  pico: { depths: [2, 2, 6, 2], dims: [64, 128, 256, 512] },
  nano: { depths: [2, 2, 8, 2], dims: [80, 160, 320, 640] },
  tiny: { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768] },
  base: { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024] },
  large: { depths: [3, 3, 27, 3], dims: [192, 384, 768, 1536] },
  huge: { depths: [3, 3, 27, 3], dims: [352, 704, 1408, 2816] },
};

export const SIZE_NAMES = Object.keys(MODEL_SIZES) as SizeName[];

/** Mask patch = total encoder stride (4 · 2³). */
export const MASK_PATCH = 32;
export const IN_CHANS = 3;
/** Values predicted per patch: 32·32·3. */
export const PATCH_VALUES = MASK_PATCH * MASK_PATCH * IN_CHANS;

export type GrnMode = 'per-sample' | 'batch';

export interface ModelConfig {
  /** Blocks per stage (4 stages). */
  depths: number[];
  /** Channels per stage. */
  dims: number[];
  decoderDim: number;
  decoderDepth: number;
  /**
   * GRN in every block, encoder and decoder (ConvNeXt V2; default). False is the ablation of a
   * ConvNeXt V1-style block: dwconv → LayerNorm → pwconv1 → GELU → pwconv2 → residual, with no
   * GRN parameters. V1's layer scale is not added either, so the only difference is GRN.
   */
  grn: boolean;
  /** Published size this config equals, if any. */
  size?: SizeName;
}

export interface StepOptions {
  /** GRN statistics over each sample's visible sites (default) or the whole batch's; unused without GRN. */
  grnMode: GrnMode;
  gelu: GeluForm;
  /** Normalised-pixel targets (default on). */
  normPix: boolean;
  /** Ablation: ordinary dense convolutions on the masked image (no sparse conv). */
  denseEncoder: boolean;
  /**
   * Decoder warm-up: the encoder's weights stay as they are; only proj, the mask token, the
   * decoder and pred get gradients and AdamW updates, and the backward stops at the encoder's
   * output (absent = false).
   */
  freezeEncoder?: boolean;
}

export const DEFAULT_STEP_OPTIONS: StepOptions = { grnMode: 'per-sample', gelu: 'erf', normPix: true, denseEncoder: false };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function modelConfig(size: SizeName, decoderDim = 512, decoderDepth = 1, grn = true): ModelConfig {
  const s = MODEL_SIZES[size];
  if (!s) throw new ConfigError(`unknown model size '${size}' (known: ${SIZE_NAMES.join(', ')})`);
  return validateConfig({ depths: [...s.depths], dims: [...s.dims], decoderDim, decoderDepth, grn, size });
}

/** The published size whose depths and dims equal these, if any. */
export function matchSize(depths: readonly number[], dims: readonly number[]): SizeName | undefined {
  return SIZE_NAMES.find((n) => MODEL_SIZES[n].depths.join() === depths.join() && MODEL_SIZES[n].dims.join() === dims.join());
}

export function customConfig(depths: number[], dims: number[], decoderDim = 512, decoderDepth = 1, grn = true): ModelConfig {
  return validateConfig({ depths, dims, decoderDim, decoderDepth, grn, size: matchSize(depths, dims) });
}

export function validateConfig(c: ModelConfig): ModelConfig {
  const bad = (what: string) => {
    throw new ConfigError(what);
  };
  if (c.depths.length !== 4 || c.dims.length !== 4) bad(`depths and dims need 4 entries each (got ${c.depths.length} and ${c.dims.length})`);
  c.depths.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 1 || d > 64) bad(`depth of stage ${i} must be an integer in 1..64 (got ${d})`);
  });
  c.dims.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 1 || d > 4096) bad(`width of stage ${i} must be an integer in 1..4096 (got ${d})`);
  });
  if (!Number.isInteger(c.decoderDim) || c.decoderDim < 1 || c.decoderDim > 4096) bad(`decoder width must be an integer in 1..4096 (got ${c.decoderDim})`);
  if (!Number.isInteger(c.decoderDepth) || c.decoderDepth < 0 || c.decoderDepth > 16) bad(`decoder depth must be an integer in 0..16 (got ${c.decoderDepth})`);
  if (typeof c.grn !== 'boolean') bad(`grn must be true or false (got ${String(c.grn)})`);
  return c;
}

/** Input sizes must be positive multiples of the 32-px mask patch. */
export function validateInputSize(height: number, width: number): void {
  for (const [name, v] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(v) || v < MASK_PATCH || v % MASK_PATCH !== 0 || v > 4096) {
      throw new ConfigError(`input ${name} ${v} must be a multiple of ${MASK_PATCH} between ${MASK_PATCH} and 4096`);
    }
  }
}
