// Browser (and Vitest) shader sources: every shaders/*.wgsl file bundled as a string.
import { shaderSourcesFromRecord, type ShaderSources } from './shader-library.ts';

const files = import.meta.glob('/shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

export const bundledShaders: ShaderSources = shaderSourcesFromRecord(files);
