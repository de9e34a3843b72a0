// Canonical state dict (official FCMAE names, dense PyTorch shapes) ↔ the engine's flat
// parameter buffer, and the model config implied by a state dict's shapes.
import { ConfigError, customConfig, type ModelConfig } from './config.ts';
import { paramTable, toEngineLayout, toTorchLayout, type ParamTable } from './parameters.ts';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type StateDict = Map<string, NamedTensor>;

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Infer depths, dims, the decoder and GRN from canonical names and shapes. GRN is all or
 * nothing: blocks with grn.gamma/grn.beta next to blocks without are refused, naming both.
 */
export function configFromStateDict(sd: StateDict): ModelConfig {
  const dims: number[] = [];
  const depths: number[] = [];
  for (let s = 0; s < 4; s++) {
    let b = 0;
    while (sd.has(`encoder.stages.${s}.${b}.dwconv.weight`)) b++;
    depths.push(b);
    const w = sd.get(`encoder.stages.${s}.0.dwconv.weight`);
    if (!w) throw new ConfigError(`state dict has no encoder.stages.${s}.0.dwconv.weight: cannot infer the width of stage ${s}`);
    dims.push(w.shape[0]!);
  }
  const proj = sd.get('proj.weight');
  if (!proj) throw new ConfigError('state dict has no proj.weight: cannot infer the decoder width');
  let decoderDepth = 0;
  while (sd.has(`decoder.${decoderDepth}.dwconv.weight`)) decoderDepth++;
  const blocks = [...depths.flatMap((depth, s) => Array.from({ length: depth }, (_, b) => `encoder.stages.${s}.${b}`)), ...Array.from({ length: decoderDepth }, (_, b) => `decoder.${b}`)];
  const withGrn = blocks.filter((p) => sd.has(`${p}.grn.gamma`) || sd.has(`${p}.grn.beta`));
  const withoutGrn = blocks.filter((p) => !sd.has(`${p}.grn.gamma`) && !sd.has(`${p}.grn.beta`));
  if (withGrn.length && withoutGrn.length) {
    throw new ConfigError(`state dict mixes blocks with GRN (${withGrn[0]}, ${withGrn.length} in all) and without (${withoutGrn[0]}, ${withoutGrn.length} in all): a model has GRN in every block or in none`);
  }
  return customConfig(depths, dims, proj.shape[0]!, decoderDepth, withoutGrn.length === 0);
}

export interface StateDictProblems {
  missing: string[];
  unexpected: string[];
  misshaped: { name: string; expected: number[]; got: number[] }[];
}

/** Flat engine parameters from a canonical state dict; every problem is reported by name. */
export function flatFromStateDict(table: ParamTable, sd: StateDict): { flat: Float32Array; problems: StateDictProblems } {
  const flat = new Float32Array(table.totalFloats);
  const problems: StateDictProblems = { missing: [], unexpected: [], misshaped: [] };
  for (const spec of table.specs) {
    const t = sd.get(spec.name);
    if (!t) {
      problems.missing.push(spec.name);
      continue;
    }
    if (!sameShape(t.shape, spec.torchShape)) {
      problems.misshaped.push({ name: spec.name, expected: spec.torchShape, got: t.shape });
      continue;
    }
    flat.set(toEngineLayout(spec, t.data), spec.offset);
  }
  for (const name of sd.keys()) if (!table.byName.has(name)) problems.unexpected.push(name);
  return { flat, problems };
}

/** flatFromStateDict for a state dict that must fit exactly: throws naming the first tensors that do not (`what` names the source). */
export function flatOrThrow(table: ParamTable, sd: StateDict, what: string): Float32Array {
  const { flat, problems } = flatFromStateDict(table, sd);
  const bad = [...problems.missing, ...problems.misshaped.map((m) => m.name), ...problems.unexpected];
  if (bad.length) throw new Error(`${what}: does not fit the model: ${bad.slice(0, 5).join(', ')}`);
  return flat;
}

/** Canonical state dict from a flat engine buffer (params or grads). */
export function stateDictFromFlat(table: ParamTable, flat: Float32Array): StateDict {
  const sd: StateDict = new Map();
  for (const spec of table.specs) {
    sd.set(spec.name, { shape: [...spec.torchShape], data: toTorchLayout(spec, flat.subarray(spec.offset, spec.offset + spec.size)) });
  }
  return sd;
}

export { paramTable };
