// The weight-decay rule in a real FCMAE step: one AdamW update of the tiny model of
// tests/fixtures/io/official-pretrain (its torch-written weights and moments at step 4) under
// 'official' and 'maintainers', against a float64 AdamW where each tensor decays exactly when
// torch's groups (main_pretrain.py's, recorded by gen_official_pretrain.py) or the maintainers'
// rule say so, by official name. A large lr makes the decay term (lr·wd·w) far above f32 noise,
// so the other rule's reference misses the GRN and mask-token elements by a wide margin.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { flatOrThrow } from '../../../src/model/state-dict.ts';
import { officialParameterOrder } from '../../../src/io/official-order.ts';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { ADAMW_DEFAULTS, type WeightDecayRule } from '../../../src/ops/adamw.ts';
import { Trainer } from '../../../src/train/trainer.ts';
import { Random } from '../../../src/util/random.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';
import { testEngine } from '../../helpers/gpu.ts';

const DIR = join(FIXTURE_DIR, 'io/official-pretrain');
const order = JSON.parse(readFileSync(join(DIR, 'official-order.json'), 'utf8')) as {
  meta: { depths: number[]; dims: number[]; decoderDepth: number; decoderDim: number; steps: number };
  params: { name: string; group: number; maintainersDecay: boolean }[];
};
const fixture = parseSafetensors(new Uint8Array(readFileSync(join(DIR, 'canonical.safetensors'))));
const config = customConfig(order.meta.depths, order.meta.dims, order.meta.decoderDim, order.meta.decoderDepth);
const LR = 0.05;
const S = 64;
const N = 2;

function stateDict(prefix: string) {
  return new Map([...fixture.tensors].filter(([k]) => (prefix ? k.startsWith(prefix) : !k.startsWith('adamw.'))).map(([k, t]) => [k.slice(prefix.length), { shape: t.shape, data: t.data }]));
}

describe('weight-decay rule: one FCMAE AdamW step against float64, decay by official name', () => {
  for (const rule of ['official', 'maintainers'] as const) {
    it(`${rule} rule`, async () => {
      const engine = await testEngine();
      const trainer = await Trainer.create(engine, {
        config,
        batchSize: N,
        height: S,
        width: S,
        visible: 2,
        options: DEFAULT_STEP_OPTIONS,
        adamw: { ...ADAMW_DEFAULTS, decayRule: rule },
        learningRate: () => LR,
        seed: 3,
      });
      try {
        const table = trainer.plan.table;
        const params = flatOrThrow(table, stateDict(''), 'params');
        const m = flatOrThrow(table, stateDict('adamw.m.'), 'm');
        const v = flatOrThrow(table, stateDict('adamw.v.'), 'v');
        const step = order.meta.steps;
        trainer.restoreState({ step, params, m, v });
        const rng = new Random(5);
        const images = rng.uniformArray(N * 3 * S * S); // (N, 3, S, S) in [-1, 1]
        const mask = Float32Array.from([0, 1, 1, 0, 1, 0, 0, 1]); // (N, L=4): 2 visible each
        const { grads } = await trainer.gradients(images, mask);
        await trainer.step(images, mask);
        const after = (await trainer.saveState()).params;

        // which tensors decay, by official name, from torch's groups / the maintainers' rule
        const official = officialParameterOrder(config);
        const decays = (r: WeightDecayRule) => new Map(order.params.map((p, i) => [official[i]!.canonical, r === 'official' ? p.group === 1 : p.maintainersDecay]));
        const reference = (r: WeightDecayRule): Float64Array => {
          const out = Float64Array.from(params);
          const t = step + 1;
          const { beta1, beta2, eps, weightDecay } = ADAMW_DEFAULTS;
          for (const spec of table.specs) {
            const decay = decays(r).get(spec.name)!;
            for (let i = spec.offset; i < spec.offset + spec.size; i++) {
              const w = decay ? params[i]! * (1 - LR * weightDecay) : params[i]!;
              const mi = beta1 * m[i]! + (1 - beta1) * grads[i]!;
              const vi = beta2 * v[i]! + (1 - beta2) * grads[i]! ** 2;
              out[i] = w - (LR / (1 - beta1 ** t)) * (mi / (Math.sqrt(vi) / Math.sqrt(1 - beta2 ** t) + eps));
            }
          }
          return out;
        };
        const errorIn = (ref: Float64Array, names: (n: string) => boolean) => {
          let worst = 0;
          let where = '';
          for (const spec of table.specs) {
            if (!names(spec.name)) continue;
            for (let i = spec.offset; i < spec.offset + spec.size; i++) {
              const e = Math.abs(after[i]! - ref[i]!) / (Math.abs(ref[i]!) + 1e-3);
              if (e > worst) [worst, where] = [e, `${spec.name}[${i - spec.offset}]`];
            }
          }
          return { worst, where };
        };
        const own = errorIn(reference(rule), () => true);
        expect(own.worst, `${rule}: max relative error ${own.worst} at ${own.where}`).toBeLessThan(2e-4);
        // the other rule's reference misses exactly the tensors where the rules differ
        const differs = (n: string) => /\.grn\.(gamma|beta)$/.test(n) || n === 'mask_token';
        const other = errorIn(reference(rule === 'official' ? 'maintainers' : 'official'), differs);
        expect(other.worst, `${rule}: the other rule's reference should miss GRN / mask token (max ${other.worst} at ${other.where})`).toBeGreaterThan(1e-3);
      } finally {
        trainer.destroy();
      }
    }, 300_000);
  }
});
