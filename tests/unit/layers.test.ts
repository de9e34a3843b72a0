// Imports only go down the layers (README, Design): util → gpu → ops → model → train →
// io / data → bench → worker / cli → store → ui. `reference/` (float64 CPU references) serves
// the tests: nothing in the engine's layers imports it. A violation names the file and the import.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.ts';

const RANK: Record<string, number> = { util: 0, gpu: 1, ops: 2, model: 3, train: 4, io: 5, data: 5, bench: 6, worker: 7, cli: 7, store: 8, ui: 9 };
/** Layers that may import the references: the benchmarks compare against them, and the worker's matmul self-test. */
const MAY_IMPORT_REFERENCE = new Set(['bench', 'worker', 'reference']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}

const SRC = join(ROOT, 'src');
const IMPORT = /(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

describe('layering', () => {
  it('no file imports from a layer above its own', () => {
    const violations: string[] = [];
    for (const file of sources(SRC)) {
      const layer = relative(SRC, file).split(sep)[0]!;
      if (!(layer in RANK) && layer !== 'reference') continue; // main.tsx: the page's entry
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const spec = (m[1] ?? m[2])!;
        if (!spec.startsWith('.')) continue;
        const target = relative(SRC, resolve(dirname(file), spec)).split(sep)[0]!;
        if (target === layer) continue;
        const where = `${relative(ROOT, file)} imports ${spec}`;
        if (target === 'reference') {
          if (!MAY_IMPORT_REFERENCE.has(layer)) violations.push(where);
        } else if (layer === 'reference') {
          if ((RANK[target] ?? 99) > RANK.model!) violations.push(where);
        } else if ((RANK[target] ?? 99) > RANK[layer]!) violations.push(where);
      }
    }
    expect(violations, violations.join('\n')).toEqual([]);
  });
});
