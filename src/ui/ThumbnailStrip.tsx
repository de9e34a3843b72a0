// A virtualised strip of dataset thumbnails: only the items in view (plus a little overscan)
// exist in the DOM, and only those are requested from the worker (which decodes them off the
// main thread), in one batch per scroll pause. Thousands of images cost a wide empty div.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useAppStore } from '../store/store.ts';
import { useBridge } from './bridge-context.ts';
import { usePicture } from './picture-canvas.ts';
import { visibleRange } from './virtual.ts';

const THUMB = 64;
const GAP = 4;
const PITCH = THUMB + GAP;
/** Thumbnails kept decoded (oldest dropped first). */
const CACHE_LIMIT = 600;

interface Thumb {
  image: ImageData;
  path: string;
}

function ThumbCanvas({ thumb }: { thumb: Thumb | undefined }) {
  const ref = useRef<HTMLCanvasElement>(null);
  // drawn again from the cached pixels after a GPU crash (picture-canvas.ts)
  usePicture(ref, thumb?.image, false);
  return <canvas ref={ref} width={THUMB} height={THUMB} className={thumb ? 'thumb' : 'thumb loading'} />;
}

export function ThumbnailStrip() {
  const dataset = useAppStore((s) => s.dataset);
  const bridge = useBridge();
  const scroller = useRef<HTMLDivElement>(null);
  const cache = useRef(new Map<number, Thumb>());
  const [range, setRange] = useState<[number, number]>([0, 0]);
  const [, setTick] = useState(0);
  const count = dataset?.images ?? 0;
  const key = dataset ? `${dataset.source}:${dataset.name}:${dataset.images}` : '';

  useEffect(() => {
    cache.current.clear();
    setTick((t) => t + 1);
  }, [key]);

  const measure = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const next = visibleRange(el.scrollLeft, el.clientWidth, count, PITCH);
    setRange((r) => (r[0] === next[0] && r[1] === next[1] ? r : next));
  }, [count]);

  useEffect(() => {
    measure();
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [measure]);

  // fetch what is in view and not cached, once the scrolling pauses
  useEffect(() => {
    if (!bridge || count === 0) return;
    const wanted: number[] = [];
    for (let i = range[0]; i < range[1]; i++) if (!cache.current.has(i)) wanted.push(i);
    if (wanted.length === 0) return;
    let live = true;
    const timer = setTimeout(() => {
      bridge.thumbnails(wanted, THUMB).then(
        (t) => {
          if (!live) return;
          const plane = t.size * t.size * 4;
          t.indices.forEach((idx, j) => {
            cache.current.set(idx, { image: new ImageData(t.rgba.slice(j * plane, (j + 1) * plane), t.size, t.size), path: t.paths[j]! });
          });
          while (cache.current.size > CACHE_LIMIT) cache.current.delete(cache.current.keys().next().value!);
          setTick((x) => x + 1);
        },
        () => {}, // a dataset swapped mid-request: the next range asks again
      );
    }, 80);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [bridge, range, count, key]);

  if (count === 0) return null;
  const items = [];
  for (let i = range[0]; i < range[1]; i++) {
    const t = cache.current.get(i);
    items.push(
      <li key={i} style={{ left: i * PITCH }} title={t?.path}>
        <ThumbCanvas thumb={t} />
      </li>,
    );
  }
  return (
    <div
      ref={scroller}
      className="thumb-strip"
      tabIndex={0}
      role="region"
      aria-label={`Dataset thumbnails, ${count} images (scroll with the arrow keys)`}
      onScroll={measure}
      onKeyDown={(e) => {
        const el = scroller.current;
        if (!el) return;
        if (e.key === 'ArrowRight') el.scrollBy({ left: PITCH * 4 });
        if (e.key === 'ArrowLeft') el.scrollBy({ left: -PITCH * 4 });
        if (e.key === 'Home') el.scrollTo({ left: 0 });
        if (e.key === 'End') el.scrollTo({ left: el.scrollWidth });
      }}
      data-testid="thumb-strip"
    >
      <ul style={{ width: count * PITCH - GAP, height: THUMB }}>{items}</ul>
    </div>
  );
}
