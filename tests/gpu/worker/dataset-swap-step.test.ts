// A manual step that is drawing its batch when a new data set is swapped in (a swap does not wait
// for a manual step, only for the loop) trains on the new set's images, never the old one's:
// its loss equals, bit for bit, the first step of a session that only ever saw the new set. The
// old set's decodes are held until after the swap, as when a big folder is chosen while the
// demo set still decodes. A reconstruction asked for at the same moment shows the new set too.
// (The worker session in Node on Dawn, with the Node image decoder.)
import { afterAll, describe, expect, it } from 'vitest';
import type { PixelDecoder } from '../../../src/data/browser-dataset.ts';
import { decodeImageBlobWithSharp } from '../../../src/data/node-folder.ts';
import { nodeGpu } from '../../../src/gpu/node-device.ts';
import { loadShadersFromDisk } from '../../../src/gpu/shader-library-node.ts';
import { encodePng } from '../../../src/io/png.ts';
import { defaultRunConfig } from '../../../src/train/run-config.ts';
import type { TrainingConfig } from '../../../src/worker/protocol.ts';
import { TrainingSession } from '../../../src/worker/session.ts';

const SETTINGS = { depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, seed: 5, blr: 0.1, warmupSteps: 1, totalSteps: 4, evalImages: 2 };

/** Patterned PNG (a solid colour would give the same normalised-pixel loss for any colour). */
function pattern(w: number, h: number, seed: number): Blob {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = (y * w + x) * 4;
    data[o] = (x * seed * 7 + y * 3) % 256;
    data[o + 1] = 128 + 100 * Math.sin((x * seed) / 9 + y / 5);
    data[o + 2] = ((x ^ y) * seed) % 256;
    data[o + 3] = 255;
  }
  return new Blob([encodePng({ width: w, height: h, data }) as Uint8Array<ArrayBuffer>]);
}

const listing = (name: string, seed: number) => ({ name, files: Array.from({ length: 6 }, (_, i) => ({ path: `${name}/img${i}.png`, file: pattern(72, 72, seed + i) })), unreadable: [] });

const sessions: TrainingSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.dispose();
});

async function open(decode: PixelDecoder): Promise<TrainingSession> {
  const gpu = await nodeGpu();
  const session = new TrainingSession(loadShadersFromDisk(), (listener, event) => listener(event), () => gpu, 'http://localhost/', decode);
  sessions.push(session);
  const status = await session.init();
  if (!status.ok) throw new Error(`no GPU for the session: ${status.message}`);
  return session;
}

const config = (): TrainingConfig => ({ ...defaultRunConfig(), ...SETTINGS });

describe('a data set swapped in during a manual step and a reconstruction', () => {
  it("the step trains on, and the reconstruction shows, the new set's images", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let held = 0;
    const gated: PixelDecoder = async (blob, options) => {
      if (options.path?.startsWith('old/')) {
        held++;
        await gate;
      }
      return decodeImageBlobWithSharp(blob, options);
    };
    const signal = new AbortController().signal;
    const swapped = await open(gated);
    await swapped.setConfig(config(), { allowReset: true }, signal);
    await swapped.loadListing(listing('old', 3), 'files', {}, signal);
    const step = swapped.step(signal);
    const reconstruction = swapped.reconstruct({ maskRatio: 0.5, seed: 1 }, signal);
    while (held === 0) await new Promise((r) => setTimeout(r, 20));
    await swapped.loadListing(listing('new', 40), 'files', {}, signal);
    release();
    const record = await step;
    const recon = await reconstruction;

    const fresh = await open(decodeImageBlobWithSharp);
    await fresh.setConfig(config(), { allowReset: true }, signal);
    await fresh.loadListing(listing('new', 40), 'files', {}, signal);
    const referenceRecon = await fresh.reconstruct({ maskRatio: 0.5, seed: 1 }, signal);
    const reference = await fresh.step(signal);
    // the reconstruction asked for before the swap shows the new set (its originals, not the old set's)
    expect(recon.paths).toEqual(referenceRecon.paths);
    const differing = recon.original.findIndex((v, i) => v !== referenceRecon.original[i]);
    expect(differing, `original panel differs from the new set's at byte ${differing}`).toBe(-1);
    expect(record.step).toBe(1);
    expect(Math.fround(record.loss), `loss of the swapped session's step ${record.loss} vs the new set alone ${reference.loss}`).toBe(Math.fround(reference.loss));
  }, 240_000);
});
