// Node shader sources: read shaders/*.wgsl from the project folder (same result as the
// Vite glob used in the browser).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shaderSourcesFromRecord, type ShaderSources } from './shader-library.ts';

export const SHADER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../shaders');

export function loadShadersFromDisk(dir = SHADER_DIR): ShaderSources {
  const record: Record<string, string> = {};
  for (const f of readdirSync(dir)) if (f.endsWith('.wgsl')) record[f] = readFileSync(join(dir, f), 'utf8');
  return shaderSourcesFromRecord(record);
}
