// What the training commands (train, finetune) share about their progress: durations (ETA), a
// moving step time, and the metrics file a resumed run continues.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** "m:ss" or "h:mm:ss"; "?" when unknown. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Wall time between consecutive step results, averaged over the last `window` steps. */
export class StepClock {
  private last = performance.now();
  private recent: number[] = [];

  constructor(private readonly window = 20) {}

  /** Records a step finishing now; returns its wall time, ms. */
  tick(): number {
    const now = performance.now();
    const ms = now - this.last;
    this.last = now;
    this.recent.push(ms);
    if (this.recent.length > this.window) this.recent.shift();
    return ms;
  }

  /** A pause (saving, evaluating) is not a step's time. */
  skipPause(): void {
    this.last = performance.now();
  }

  get averageMs(): number {
    return this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : NaN;
  }
}

/** Keep the metrics lines of steps ≤ step (a resume from an earlier checkpoint replays the rest). */
export function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.map((l) => l + '\n').join(''));
}
