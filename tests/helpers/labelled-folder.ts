// A generated labelled folder (ImageFolder layout: DIR/<class>/<image>.png) for the
// classification commands: three texture classes — horizontal stripes, vertical stripes, a
// checkerboard — in random colours, periods and phases. A random-resized crop and a horizontal
// flip keep each class's texture, so even a tiny encoder separates them within a few hundred
// images; the phases and colours make every image different.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Random } from '../../src/util/random.ts';

export const TEXTURE_CLASSES = ['checker', 'horizontal', 'vertical'] as const;

export function textureImage(cls: (typeof TEXTURE_CLASSES)[number], size: number, rng: Random): Uint8Array {
  const period = 6 + rng.int(10);
  const phase = rng.int(period);
  const a = [rng.int(256), rng.int(256), rng.int(256)];
  const b = a.map((v) => (v + 96 + rng.int(64)) % 256);
  const rgb = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const h = Math.floor((y + phase) / (period / 2)) % 2;
      const v = Math.floor((x + phase) / (period / 2)) % 2;
      const on = cls === 'horizontal' ? h : cls === 'vertical' ? v : h ^ v;
      const c = on ? a : b;
      for (let k = 0; k < 3; k++) rgb[(y * size + x) * 3 + k] = Math.max(0, Math.min(255, c[k]! + Math.round(rng.normal() * 12)));
    }
  }
  return rgb;
}

/** Writes `perClass` PNGs of side `size` per class under dir/<class>/. */
export async function writeTextureFolder(dir: string, o: { perClass: number; size: number; seed: number }): Promise<void> {
  const rng = new Random(o.seed);
  for (const cls of TEXTURE_CLASSES) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < o.perClass; i++) {
      const rgb = textureImage(cls, o.size, rng);
      await sharp(Buffer.from(rgb), { raw: { width: o.size, height: o.size, channels: 3 } }).png().toFile(join(dir, cls, `${String(i).padStart(3, '0')}.png`));
    }
  }
}
