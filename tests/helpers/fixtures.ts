// Reads the JSON fixtures written by the PyTorch scripts in tests/reference/.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');

export interface FixtureTensor {
  shape: number[];
  data: Float64Array;
}

export interface Fixture {
  meta: Record<string, unknown>;
  tensors: Record<string, FixtureTensor>;
  /** The named tensor, or a test failure naming the fixture and what it holds. */
  get(name: string): FixtureTensor;
}

export function loadFixture(relpath: string): Fixture {
  const file = join(FIXTURE_DIR, `${relpath}.json`);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    meta: Record<string, unknown>;
    tensors: Record<string, { shape: number[]; data: number[] }>;
  };
  const tensors: Record<string, FixtureTensor> = {};
  for (const [k, v] of Object.entries(doc.tensors)) tensors[k] = { shape: v.shape, data: Float64Array.from(v.data) };
  return {
    meta: doc.meta,
    tensors,
    get(name) {
      const t = tensors[name];
      if (!t) throw new Error(`fixture ${relpath} has no tensor '${name}' (has: ${Object.keys(tensors).join(', ')})`);
      return t;
    },
  };
}
