// Which images make up the batch of step k: epoch after epoch of seeded permutations of the whole
// data set (the order of a shuffling DataLoader with drop_last = False carried over epochs), so
// step k's images depend only on (seed, data set size, batch size, k).
import { Stream, streamRandom } from './streams.ts';

export class BatchOrder {
  private cache = new Map<number, Int32Array>();

  constructor(
    /** Images in the data set (slots 0..count−1). */
    readonly count: number,
    readonly batchSize: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`a batch order needs at least one image, got ${count}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size ${batchSize} must be a positive integer`);
  }

  /** The permutation of epoch `epoch` (0-based): a Fisher–Yates shuffle from the epoch's stream. */
  permutation(epoch: number): Int32Array {
    let p = this.cache.get(epoch);
    if (!p) {
      p = Int32Array.from({ length: this.count }, (_, i) => i);
      const rng = streamRandom(this.seed, Stream.Epoch, epoch);
      for (let i = p.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      if (this.cache.size > 2) this.cache.delete(Math.min(...this.cache.keys()));
      this.cache.set(epoch, p);
    }
    return p;
  }

  /**
   * Slots of step `step` (1-based). A slot that is not `usable` (an image that failed to decode
   * after the run started) is replaced by the next usable slot in slot order, so the rest of
   * the batch, and every other step, keep their images.
   */
  slots(step: number, usable: (slot: number) => boolean = () => true): Int32Array {
    if (!Number.isInteger(step) || step < 1) throw new RangeError(`step ${step} must be a positive integer`);
    const out = new Int32Array(this.batchSize);
    for (let i = 0; i < this.batchSize; i++) {
      const position = (step - 1) * this.batchSize + i;
      let slot = this.permutation(Math.floor(position / this.count))[position % this.count]!;
      for (let tries = 0; !usable(slot); tries++) {
        if (tries >= this.count) throw new RangeError(`none of the ${this.count} images is usable`);
        slot = (slot + 1) % this.count;
      }
      out[i] = slot;
    }
    return out;
  }
}
