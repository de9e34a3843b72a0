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

/** Infer depths, dims and the decoder from canonical names and shapes. */
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
  return customConfig(depths, dims, proj.shape[0]!, decoderDepth);
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

/** Canonical state dict from a flat engine buffer (params or grads). */
export function stateDictFromFlat(table: ParamTable, flat: Float32Array): StateDict {
  const sd: StateDict = new Map();
  for (const spec of table.specs) {
    sd.set(spec.name, { shape: [...spec.torchShape], data: toTorchLayout(spec, flat.subarray(spec.offset, spec.offset + spec.size)) });
  }
  return sd;
}

export { paramTable };
