import type { Tf } from '../../src/bench/tfjs-peer.ts';
/** TF.js with the WebGPU backend selected. */
export function loadTf(): Promise<Tf>;
