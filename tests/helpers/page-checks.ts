// What the page tests check and wait for, shared: polling a condition with a named timeout,
// whether a uPlot chart drew anything (its canvas unlike its first pixel), full-page screenshots,
// and dropping a folder from disk as a person does (an OS-level drag through the DevTools protocol).
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';

export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Fraction of the chart's canvas pixels unlike its first pixel (uPlot draws into one canvas). */
export async function chartNonBlank(page: Page, testId: string): Promise<number> {
  return page.getByTestId(testId).locator('canvas').first().evaluate((el) => {
    const c = el as HTMLCanvasElement;
    if (c.width === 0 || c.height === 0) return 0;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let differ = 0;
    for (let i = 4; i < d.length; i += 4) if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) differ++;
    return differ / (d.length / 4);
  });
}

/** A full-page screenshot as `dir/name.png` (the folder made when missing). */
export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
}

/** Drags a directory on disk onto an element, as the OS does (enter, over, drop). */
export async function dropDirectory(page: Page, testId: string, dir: string): Promise<void> {
  const box = await page.getByTestId(testId).boundingBox();
  if (!box) throw new Error(`${testId} is not visible: nothing to drop onto`);
  const cdp = await page.context().newCDPSession(page);
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const data = { items: [], files: [dir], dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop'] as const) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  await cdp.detach();
}
