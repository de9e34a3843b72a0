// The official fine-tuning parameter groups (evaluation-spec §2; main_finetune.py and
// optim_factory.py of the official code, "single" layer-decay mode): every tensor gets a layer
// id, an lr scale layer_decay^(L + 1 − id) and a weight decay (none for 1-D tensors, biases and
// GRN gamma/beta). The classification plan's AdamW reads them per 64-float chunk of the flat
// buffers (every tensor starts on a chunk, src/model/parameters.ts).
import { adamwChunkTable } from '../ops/adamw.ts';
import type { ParamTable } from '../model/parameters.ts';

export interface ParamGroupSettings {
  /** Layer-wise lr decay (1 = none; the recipe uses 0.9 for atto..nano). */
  layerDecay: number;
  weightDecay: number;
}

export interface ParamGroupEntry {
  /** Canonical name. */
  name: string;
  /** The official dense name (canonical without `encoder.`). */
  officialName: string;
  layerId: number;
  lrScale: number;
  weightDecay: number;
}

/** The official layer id ("single" mode) of a tensor by its official dense name. */
export function layerIdOf(officialName: string, depths: readonly number[]): number {
  const before = (s: number) => depths.slice(0, s).reduce((a, b) => a + b, 0);
  let m: RegExpMatchArray | null;
  if ((m = officialName.match(/^downsample_layers\.(\d+)\./))) return before(+m[1]!) + 1;
  if ((m = officialName.match(/^stages\.(\d+)\.(\d+)\./))) return before(+m[1]!) + +m[2]! + 1;
  return before(depths.length) + 1;
}

/** No weight decay on 1-D tensors, biases and GRN gamma/beta (the official last commit). */
export function decays(officialName: string, torchShape: readonly number[]): boolean {
  return !(torchShape.length === 1 || officialName.endsWith('.bias') || /\.(gamma|beta)$/.test(officialName));
}

export function paramGroups(table: ParamTable, depths: readonly number[], s: ParamGroupSettings): ParamGroupEntry[] {
  if (!(s.layerDecay > 0 && s.layerDecay <= 1)) throw new RangeError(`layer decay ${s.layerDecay} must be in (0, 1] (1 = none; the recipe uses 0.9)`);
  if (!(s.weightDecay >= 0 && Number.isFinite(s.weightDecay))) throw new RangeError(`weight decay ${s.weightDecay} must be ≥ 0 and finite`);
  const L = depths.reduce((a, b) => a + b, 0);
  return table.specs.map((spec) => {
    const officialName = spec.name.replace(/^encoder\./, '');
    const layerId = layerIdOf(officialName, depths);
    return { name: spec.name, officialName, layerId, lrScale: s.layerDecay ** (L + 1 - layerId), weightDecay: decays(officialName, spec.torchShape) ? s.weightDecay : 0 };
  });
}

/** (chunks, 2) [lr scale, weight decay] of every 64-float chunk of the flat buffers; padding chunks 0. */
export function chunkScalesOf(table: ParamTable, groups: readonly ParamGroupEntry[]): Float32Array {
  const byName = new Map(groups.map((g) => [g.name, g]));
  return adamwChunkTable(
    table.totalFloats,
    table.specs.map((spec) => {
      const g = byName.get(spec.name);
      if (!g) throw new Error(`internal: no parameter group for ${spec.name}`);
      return { offset: spec.offset, size: spec.size, lrScale: g.lrScale, weightDecay: g.weightDecay };
    }),
  );
}
