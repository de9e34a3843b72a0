// The page in headless Chromium: finds the WebGPU adapter, runs the matmul kernel in the
// engine worker correctly, and explains itself when WebGPU is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { launchChromium, startDevServer } from '../helpers/browser.ts';

let server: ViteDevServer;
let url: string;
let browser: Browser;

beforeAll(async () => {
  ({ server, url } = await startDevServer());
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('page GPU status', () => {
  it('reports the adapter and passes the matmul self-test run in the worker', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    const status = page.getByTestId('gpu-ok');
    await status.waitFor({ timeout: 60_000 });
    expect(await status.textContent()).toMatch(/Adapter: .+/);
    const selfTest = page.getByTestId('self-test');
    await selfTest.waitFor({ timeout: 120_000 });
    expect(await selfTest.textContent()).toContain('passed');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('explains what to do when the browser has no WebGPU', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      // Simulate a browser without WebGPU.
      delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu;
    });
    await page.goto(url);
    const alert = page.getByTestId('gpu-unavailable');
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.getAttribute('data-reason')).toBe('no-navigator-gpu');
    expect(await alert.textContent()).toMatch(/navigator\.gpu is missing.*Chrome/);
    await page.close();
  });
});
