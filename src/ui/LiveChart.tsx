// A uPlot chart fed outside React: it pulls its data from typed arrays (getData) whenever its
// source signals a new frame (subscribe), so React never re-renders per metric point. Options
// changes (log scale, series list) rebuild the chart; container resizes only resize it. The
// data live outside the canvas, so a context lost and restored (GPU process crash) or the
// store's display epoch bumped redraws the chart from them at once.
import { useCallback, useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useAppStore } from '../store/store.ts';

export interface LiveChartProps {
  /** Build the options for a given width (height comes from the props). */
  options: (width: number, height: number) => uPlot.Options;
  getData: () => uPlot.AlignedData;
  /** Register a redraw callback; returns the unsubscribe. */
  subscribe: (redraw: () => void) => () => void;
  /** Rebuild the chart when any of these change. */
  deps: readonly unknown[];
  height: number;
  /** Accessible description of what the chart shows (role img). */
  label: string;
  testId?: string;
}

export function LiveChart({ options, getData, subscribe, deps, height, label, testId }: LiveChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(200, el.clientWidth);
    const data = getData();
    const u = new uPlot(options(width, height), data, el);
    chart.current = u;
    el.dataset.points = String(data[0]?.length ?? 0);
    const redraw = () => {
      const d = getData();
      u.setData(d);
      el.dataset.points = String(d[0]?.length ?? 0);
    };
    const unsubscribe = subscribe(redraw);
    // uPlot's canvas is GPU-backed: after a GPU crash Chrome gives it back blank
    const canvas = u.ctx.canvas;
    canvas.addEventListener('contextrestored', redraw);
    const unwatch = useAppStore.subscribe((s, prev) => {
      if (s.displayEpoch !== prev.displayEpoch) redraw();
    });
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      unsubscribe();
      unwatch();
      canvas.removeEventListener('contextrestored', redraw);
      u.destroy();
      chart.current = null;
    };
    // deps are the caller's: options/getData/subscribe are read once per build on purpose
  }, [...deps, height]);
  return <div ref={box} className="chart" role="img" aria-label={label} data-testid={testId} />;
}

export interface StaticChartProps extends Pick<LiveChartProps, 'options' | 'height' | 'label' | 'testId'> {
  /** The chart's whole data (a new array rebuilds the chart). */
  data: uPlot.AlignedData;
}

/** A chart of finished results (evaluations, compared runs): no stream, rebuilt when options or data change. */
export function StaticChart({ options, data, height, label, testId }: StaticChartProps) {
  const getData = useCallback(() => data, [data]);
  const subscribe = useCallback(() => () => {}, []);
  return <LiveChart options={options} getData={getData} subscribe={subscribe} deps={[options, data]} height={height} label={label} testId={testId} />;
}
