// `npm run bench:browser [-- --json] [--quick] [--suite matmul,step,peer,sweep,kernels]
//   [--model atto] [--size 96] [--batch 2] [--ratio 0.6] [--steps 5] [--sweep 0,0.6,0.75]`:
// serves bench/browser/ with Vite on 127.0.0.1 (WebGPU needs a secure context), opens it in
// headless Chromium (WebGPU on SwiftShader here, the GPU's driver elsewhere), streams the
// page's progress to stderr and prints its report (or with --json its JSON document).
import { parseArgs } from 'node:util';
import { createServer } from 'vite';
import { launchChromium } from '../../tests/helpers/browser.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    suite: { type: 'string' },
    model: { type: 'string' },
    size: { type: 'string' },
    batch: { type: 'string' },
    ratio: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    sweep: { type: 'string' },
    'timeout-min': { type: 'string', default: '60' },
  },
  strict: true,
});

const log = (line: string) => process.stderr.write(line + '\n');

async function main(): Promise<number> {
  const root = new URL('../../', import.meta.url).pathname;
  const server = await createServer({
    configFile: `${root}vite.config.ts`,
    root,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    // pre-bundle TF.js up front: discovering it on first load would make Vite reload the page
    optimizeDeps: {
      entries: ['bench/browser/index.html'],
      include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu'],
    },
    logLevel: 'warn',
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('dev server has no TCP address');
  const q = new URLSearchParams();
  for (const k of ['suite', 'model', 'size', 'batch', 'ratio', 'steps', 'warmup', 'sweep'] as const) if (values[k] !== undefined) q.set(k, values[k]!);
  if (values.quick) q.set('quick', '1');
  const url = `http://127.0.0.1:${address.port}/bench/browser/index.html?${q}`;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('console', (m) => log(`[page] ${m.text()}`));
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    log(`opening ${url}`);
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { __bench?: { done: boolean } }).__bench?.done === true, null, {
      timeout: Number(values['timeout-min']) * 60_000,
      polling: 1000,
    });
    const result = (await page.evaluate(() => (window as unknown as { __bench: { text: string; json: unknown; error: string | null } }).__bench)) as { text: string; json: unknown; error: string | null };
    if (result.error) {
      log(`bench:browser: the page failed: ${result.error}`);
      return 1;
    }
    process.stdout.write((values.json ? JSON.stringify(result.json, null, 2) : result.text) + '\n');
    return 0;
  } finally {
    await browser.close();
    await server.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(`bench:browser: ${(e as Error).message}`);
    process.exit(1);
  },
);
