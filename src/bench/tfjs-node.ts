// Node only: TensorFlow.js on its WebGPU backend through Dawn (the `webgpu` npm package), on
// the same adapter as our engine. The backend registers itself at import time only if
// navigator.gpu exists, so navigator.gpu is set before the dynamic imports. Call after
// acquireNodeGpu(): that picks the Vulkan driver (and sets VK_ICD_FILENAMES to SwiftShader
// when no GPU driver works), and this second Dawn instance then finds the same adapter.
import { createRequire } from 'node:module';
import type { Tf } from './tfjs-peer.ts';

export class TfjsUnavailableError extends Error {
  override readonly name = 'TfjsUnavailableError';
}

/** Dawn instances must stay reachable for the life of the process (see src/gpu/node-device.ts). */
const liveInstances: GPU[] = [];
let loaded: Promise<Tf> | null = null;

async function load(): Promise<Tf> {
  const dawn = await import('webgpu');
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  liveInstances.push(gpu);
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav && typeof nav === 'object') {
    // Node ≥ 21 has a read-only navigator: give it a gpu property instead of replacing it
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true, writable: true });
  }
  let tf: Tf;
  try {
    // require(), not import(): the CommonJS bundles are what tfjs-backend-webgpu itself loads,
    // and an untyped load keeps tfjs-core's pinned @webgpu/types out of the type check
    const require = createRequire(import.meta.url);
    tf = require('@tensorflow/tfjs-core') as Tf;
    // tfjs-core's Node entry registers no gradients, and the module that registers them is
    // ESM with extensionless imports, which Node's ESM resolver rejects; through require()
    // (tsx compiles it) it loads, and registers into the registry tfjs keeps on globalThis,
    // which every copy of tfjs-core shares.
    require('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    require('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new TfjsUnavailableError(`could not load TensorFlow.js (a dev dependency): ${(e as Error).message}. Run \`npm install\` (with dev dependencies).`);
  }
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
    await tf.ready();
  } catch (e) {
    throw new TfjsUnavailableError(`TF.js WebGPU backend failed to start in Node: ${(e as Error).message}. Run the browser bench page instead (npm run bench:browser).`);
  }
  if (!ok || tf.getBackend() !== 'webgpu') throw new TfjsUnavailableError(`TF.js could not select its WebGPU backend in Node (got '${tf.getBackend()}'). Run the browser bench page instead (npm run bench:browser).`);
  return tf;
}

/** TF.js with its WebGPU backend selected (loaded once per process). */
export function loadTfjsWebgpuNode(): Promise<Tf> {
  loaded ??= load().catch((e) => {
    loaded = null;
    throw e;
  });
  return loaded;
}
