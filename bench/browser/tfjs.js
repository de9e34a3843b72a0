// TensorFlow.js with its WebGPU backend for the bench page. Plain JS on purpose: importing
// tfjs-core's types would pull its pinned, older @webgpu/types into the type check of the
// engine (tfjs.d.ts gives this module the structural Tf type of src/bench/tfjs-peer.ts).
import * as tf from '@tensorflow/tfjs-core';
// the gradients of every op (the union package @tensorflow/tfjs imports this too)
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-webgpu';

export async function loadTf() {
  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'webgpu') throw new Error(`TF.js could not select its WebGPU backend (got '${tf.getBackend()}')`);
  return tf;
}
