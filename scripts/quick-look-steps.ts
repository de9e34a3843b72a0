// `npx tsx scripts/quick-look-steps.ts [--steps 150] [--blr 1.5e-4,0.01] [--json]`:
// how many steps the pretraining loss needs to fall visibly under the page's old default learning
// rate (the recipe's blr 1.5e-4 at batch 16: lr 9.4e-6) and under "Quick look" (blr 0.01), on the
// demo photos through `fcmae train`, a tiny model (SwiftShader is slow), same seed and data.
// A fall is counted on the debiased EMA (smoothing 0.9, the page's curve) against the first
// step's loss: the first step at which the smoothed loss is 5 % / 10 % / 20 % below it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { debiasedEma, stepsToFall } from '../src/store/series.ts';
import { PAPER_BLR, QUICK_LOOK_BLR, QUICK_LOOK_WARMUP } from '../src/store/training-presets.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '150' },
    blr: { type: 'string', default: `${PAPER_BLR},${QUICK_LOOK_BLR}` },
    json: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const blrs = values.blr.split(',').map(Number);
const MODEL = ['--depths', '1,1,2,1', '--dims', '16,32,64,128', '--decoder-dim', '64', '--decoder-depth', '1', '--input-size', '64', '--batch-size', '16', '--mask-ratio', '0.6', '--seed', '0'];
const FALLS = [0.05, 0.1, 0.2];
const log = (s: string) => process.stderr.write(s + '\n');

function train(blr: number, out: string): number[] {
  // the old page default warmed up 50 steps; Quick look 20
  const warmup = blr === PAPER_BLR ? 50 : QUICK_LOOK_WARMUP;
  const args = ['train', '--data', join(ROOT, 'public/demo/natural'), ...MODEL, '--blr', String(blr), '--warmup', String(warmup), '--steps', String(steps), '--checkpoint-every', '0', '--eval-images', '2', '--out', out];
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, INIT_CWD: ROOT }, maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`fcmae train failed (${r.status}): ${r.stderr.split('\n').slice(-3).join(' | ')}`);
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'fcmae-quick-look-'));
  const rows = [];
  for (const blr of blrs) {
    log(`blr ${blr}: ${steps} steps`);
    const t0 = performance.now();
    const losses = train(blr, join(work, `blr-${blr}`));
    const smooth = debiasedEma(losses, 0.9);
    rows.push({ blr, lr: (blr * 16) / 256, first: losses[0]!, lastSmoothed: smooth[smooth.length - 1]!, falls: FALLS.map((f) => ({ fall: f, step: stepsToFall(losses, f) })), seconds: (performance.now() - t0) / 1000 });
  }
  rmSync(work, { recursive: true, force: true });
  if (values.json) {
    process.stdout.write(JSON.stringify({ steps, model: MODEL.join(' '), rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`model ${MODEL.join(' ')}; ${steps} steps on the demo photos; smoothed loss (EMA 0.9) against step 1\n`);
  process.stdout.write(`blr       lr        step-1 loss  smoothed at ${steps}  ${FALLS.map((f) => `−${f * 100} % at step`).join('  ')}  seconds\n`);
  for (const r of rows) {
    process.stdout.write(`${String(r.blr).padEnd(9)} ${r.lr.toExponential(2).padEnd(9)} ${r.first.toFixed(4).padStart(11)}  ${r.lastSmoothed.toFixed(4).padStart(13)}  ${r.falls.map((f) => String(f.step ?? `>${steps}`).padStart(13)).join('  ')}  ${r.seconds.toFixed(0).padStart(7)}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
