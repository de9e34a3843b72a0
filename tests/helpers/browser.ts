// Browser end-to-end fixtures: a Vite dev server on 127.0.0.1 (WebGPU needs a secure
// context: localhost counts) and Debian's Chromium driven by playwright-core, headless, with
// WebGPU on SwiftShader.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string {
  const p = process.env.CHROMIUM_PATH ?? CHROMIUM_PATHS.find((c) => existsSync(c));
  if (!p) throw new Error('No Chromium found: run `apt-get install -y chromium` (or set CHROMIUM_PATH).');
  return p;
}

export async function startDevServer(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    logLevel: 'warn',
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('dev server has no TCP address');
  return { server, url: `http://127.0.0.1:${address.port}/` };
}

/** `extraArgs`: more Chromium switches (e.g. the GPU-crash test's). */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--enable-unsafe-webgpu',
      // full-resolution GPU timestamps for the browser benchmark (Dawn rounds to 65.5 µs)
      '--disable-dawn-features=timestamp_quantization',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      ...extraArgs,
    ],
  });
}

/**
 * The engine-worker test page (tests/e2e/pages/worker-harness.html) in a fresh Chromium on a dev
 * server, once its worker reports a GPU; page errors go to `errors`. `close()` ends both.
 */
export async function openWorkerHarness(errors: string[] = []): Promise<{ server: ViteDevServer; browser: Browser; page: Page; close(): Promise<void> }> {
  const { server, url } = await startDevServer();
  const browser = await launchChromium();
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}tests/e2e/pages/worker-harness.html`);
  const gpu = await page.evaluate(() => (window as unknown as { harness: { ready: Promise<{ ok: boolean; message?: string }> } }).harness.ready);
  if (!gpu.ok) throw new Error(`the worker harness has no GPU: ${gpu.message ?? 'unknown reason'}`);
  return {
    server,
    browser,
    page,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
