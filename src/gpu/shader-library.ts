// WGSL sources by file name. The browser fills the library from Vite `?raw` imports
// (shader-library-vite.ts), Node reads the shaders/ folder (shader-library-node.ts); both
// resolve `//#include "file.wgsl"` lines here, so a shared snippet (e.g. GELU) is written once.

export type ShaderSources = ReadonlyMap<string, string>;

const INCLUDE = /^\s*\/\/#include\s+"([^"]+)"\s*$/gm;

/** Expand `//#include "x.wgsl"` lines recursively (each file at most once). */
export function resolveIncludes(name: string, sources: ShaderSources, seen = new Set<string>()): string {
  const text = sources.get(name);
  if (text === undefined) {
    throw new Error(`Shader file ${name} not found (known: ${[...sources.keys()].sort().join(', ')})`);
  }
  seen.add(name);
  return text.replace(INCLUDE, (_line, dep: string) => {
    if (seen.has(dep)) return `// (${dep} already included)`;
    return `// ---- ${dep} ----\n${resolveIncludes(dep, sources, seen)}\n// ---- end ${dep} ----`;
  });
}

/** Build a library from `{ '/shaders/foo.wgsl': text }`-style records (keys reduced to base names). */
export function shaderSourcesFromRecord(record: Record<string, string>): ShaderSources {
  const map = new Map<string, string>();
  for (const [path, text] of Object.entries(record)) map.set(path.split('/').pop()!, text);
  return map;
}
