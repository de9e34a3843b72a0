// A uPlot chart fed outside React: it pulls its data from typed arrays (getData) whenever its
// source signals a new frame (subscribe), so React never re-renders per metric point. Options
// changes (log scale, series list) rebuild the chart; container resizes only resize it.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

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
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      unsubscribe();
      u.destroy();
      chart.current = null;
    };
    // deps are the caller's: options/getData/subscribe are read once per build on purpose
  }, [...deps, height]);
  return <div ref={box} className="chart" role="img" aria-label={label} data-testid={testId} />;
}
