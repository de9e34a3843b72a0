// Canvases that show pictures kept as data (ImageData in the store or a component's cache) and
// draw them again by themselves whenever the browser may have dropped their pixels: a 2D
// context lost and restored (a GPU process crash, a driver reset: Chrome fires
// `contextrestored` with a blank canvas), or the store's display epoch bumped after a device
// loss. Their contexts ask for `willReadFrequently`, which keeps the backing store in CPU
// memory in Chromium: such a canvas does not lose its pixels when the GPU process goes away.
import { useEffect, type RefObject } from 'react';
import { useAppStore } from '../store/store.ts';

/** 2D context settings of picture canvases (CPU-backed in Chromium, so a GPU crash keeps them). */
export const PICTURE_CONTEXT: CanvasRenderingContext2DSettings = { willReadFrequently: true };

/**
 * Calls `paint` on `element`'s canvas now, after every context restore and whenever the display
 * epoch changes. `deps` are what the picture is drawn from.
 */
export function useRepaint<T extends HTMLElement>(ref: RefObject<T | null>, paint: (element: T) => void, deps: readonly unknown[], canvasOf: (element: T) => HTMLCanvasElement | null = (e) => (e instanceof HTMLCanvasElement ? e : null)): void {
  const epoch = useAppStore((s) => s.displayEpoch);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const redraw = () => paint(element);
    redraw();
    const canvas = canvasOf(element);
    canvas?.addEventListener('contextrestored', redraw);
    return () => canvas?.removeEventListener('contextrestored', redraw);
    // the caller's deps decide when the picture changes; paint is read with them
  }, [...deps, epoch]);
}

/** Draws `image` into the canvas (resized to it), again whenever its pixels may have been dropped. */
export function usePicture(ref: RefObject<HTMLCanvasElement | null>, image: ImageData | null | undefined, resize = true): void {
  useRepaint(
    ref,
    (canvas) => {
      if (!image) return;
      if (resize && (canvas.width !== image.width || canvas.height !== image.height)) {
        canvas.width = image.width;
        canvas.height = image.height;
      }
      canvas.getContext('2d', PICTURE_CONTEXT)?.putImageData(image, 0, 0);
    },
    [image, resize],
  );
}
