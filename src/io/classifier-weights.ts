// A classifier's starting weights from any checkpoint the readers understand (evaluation-spec
// §1–§2): this project's FCMAE files, the official sparse and dense layouts, the released
// encoder-only files, timm (with or without head), Hugging Face. The encoder must be complete;
// the decoder (proj, mask token, decoder blocks, pred) is left behind; the final norm and the
// head come from the file when it has them with the right class count, else they are
// initialised as the official fine-tuning does (norm 1 / 0, head trunc-normal std 2e-5, bias 0)
// and the notes say so. A head of another class count is reported and re-initialised, never reshaped.
import { classifierParamTable, initialParams, toEngineLayout, type ParamTable } from '../model/parameters.ts';
import type { ModelConfig } from '../model/config.ts';
import { Random } from '../util/random.ts';
import type { CanonicalLoad } from './name-schemes.ts';

export interface ClassifierWeights {
  config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>;
  numClasses: number;
  table: ParamTable;
  /** Flat engine layout. */
  flat: Float32Array;
  /** True when the file's head (and norm) were used as they are. */
  headFromFile: boolean;
  /** What was initialised or left behind, one line each. */
  notes: string[];
}

export class ClassifierWeightsError extends Error {
  override readonly name = 'ClassifierWeightsError';
}

const DECODER = /^(proj\.|mask_token$|decoder\.|pred\.)/;

/**
 * `numClasses`: the classes the data has (null: the file's head decides, and a file without a
 * head is an error). `seed` draws the parts that are initialised.
 */
export function classifierWeightsFrom(ckpt: CanonicalLoad & { fileName?: string }, numClasses: number | null, seed: number): ClassifierWeights {
  const name = ckpt.report.fileName;
  const c = ckpt.config;
  const encoderMissing = ckpt.report.missing.filter((n) => n.startsWith('encoder.'));
  const misShaped = ckpt.report.misShaped.filter((m) => m.canonical.startsWith('encoder.'));
  if (encoderMissing.length || misShaped.length) {
    const listed = [...encoderMissing.map((n) => `missing ${n}`), ...misShaped.map((m) => `${m.name} is (${m.got.join(', ')}), expected (${m.expected.join(', ')})`)];
    throw new ClassifierWeightsError(`${name}: the encoder is incomplete: ${listed.slice(0, 6).join('; ')}${listed.length > 6 ? ` … (${listed.length} in all)` : ''}`);
  }
  return classifierWeightsFromTensors(ckpt.tensors, { depths: c.depths, dims: c.dims, grn: c.grn ?? true }, c.numClasses, numClasses, seed, name);
}

/**
 * The same from canonical tensors already in memory (e.g. the page's current FCMAE weights):
 * `fileClasses` is the class count of the tensors' head (null: none).
 */
export function classifierWeightsFromTensors(
  tensors: ReadonlyMap<string, { data: Float32Array }>,
  encoder: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>,
  fileClasses: number | null,
  numClasses: number | null,
  seed: number,
  name: string,
): ClassifierWeights {
  const c = encoder;
  const K = numClasses ?? fileClasses;
  if (K === null) throw new ClassifierWeightsError(`${name}: has no classification head; say how many classes the head should have`);
  const config = { depths: [...c.depths], dims: [...c.dims], grn: c.grn };
  const table = classifierParamTable(config, K);
  const flat = initialParams(table, new Random(seed));
  const absent = table.specs.filter((spec) => spec.name.startsWith('encoder.') && !tensors.has(spec.name)).map((spec) => spec.name);
  if (absent.length) throw new ClassifierWeightsError(`${name}: the encoder is incomplete: missing ${absent.slice(0, 6).join(', ')}${absent.length > 6 ? ` … (${absent.length} in all)` : ''}`);
  const notes: string[] = [];
  const headInFile = tensors.has('head.weight') && tensors.has('head.bias');
  const normInFile = tensors.has('norm.weight') && tensors.has('norm.bias');
  const headFits = headInFile && fileClasses === K;
  if (headInFile && !headFits) notes.push(`${name}'s head has ${fileClasses} classes, the data ${K}: head re-initialised (trunc-normal std 2e-5, bias 0)`);
  else if (!headInFile) notes.push(`no head in ${name}: initialised for ${K} classes (trunc-normal std 2e-5, bias 0)`);
  if (!normInFile) notes.push(`no final norm in ${name} (an FCMAE encoder has none): initialised to weight 1, bias 0`);
  let decoderTensors = 0;
  for (const [tensorName, t] of tensors) {
    if (DECODER.test(tensorName)) {
      decoderTensors++;
      continue;
    }
    if (tensorName.startsWith('head.') && !headFits) continue;
    const spec = table.byName.get(tensorName);
    if (!spec) continue;
    flat.set(toEngineLayout(spec, t.data), spec.offset);
  }
  if (decoderTensors) notes.push(`FCMAE decoder left behind (${decoderTensors} tensors: proj, mask token, decoder blocks, pred)`);
  return { config, numClasses: K, table, flat, headFromFile: headFits && normInFile, notes };
}

/** A classifier with every weight drawn by the project's initialisation (seeded): the random-encoder baseline, or fine-tuning from scratch. */
export function randomClassifierWeights(config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>, numClasses: number, seed: number): ClassifierWeights {
  const c = { depths: [...config.depths], dims: [...config.dims], grn: config.grn };
  const table = classifierParamTable(c, numClasses);
  return { config: c, numClasses, table, flat: initialParams(table, new Random(seed)), headFromFile: false, notes: [`random initialisation (seed ${seed})`] };
}
