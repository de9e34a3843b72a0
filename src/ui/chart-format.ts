// Axis tick labels for the charts: as many decimals as the tick spacing needs (uPlot's default
// rounds a loss range 0.9994–0.9998 to "1, 1, 1"), whole-step increments on step axes, and the
// feature-collapse charts' shared frame.
import type uPlot from 'uplot';

/** Labels for evenly spaced ticks: enough decimals to tell neighbours apart, exponent for tiny values. */
export function formatTicks(ticks: readonly number[]): string[] {
  if (ticks.length === 0) return [];
  const spacing = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : Math.abs(ticks[0]!);
  const largest = Math.max(...ticks.map(Math.abs));
  if (largest !== 0 && (largest < 1e-3 || largest >= 1e6)) return ticks.map((t) => (t === 0 ? '0' : t.toExponential(spacing > 0 ? Math.max(0, Math.min(6, Math.ceil(Math.log10(largest / spacing)))) : 1)));
  const decimals = spacing > 0 ? Math.max(0, Math.min(10, -Math.floor(Math.log10(spacing) + 1e-9))) : 0;
  return ticks.map((t) => t.toFixed(decimals));
}

/** Whole-number tick increments for a step axis (1, 2, 5, 10, 20, 50, ...). */
export const STEP_INCREMENTS: number[] = (() => {
  const out: number[] = [];
  for (let e = 0; e <= 9; e++) for (const m of [1, 2, 5]) out.push(m * 10 ** e);
  return out;
})();

/** Scales and axes of a feature-collapse chart: distance (0–0.5) against the normalised block index (0–1). */
export function collapseChartFrame(): Pick<uPlot.Options, 'scales' | 'axes'> {
  return {
    scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 0.5] } },
    axes: [
      { label: 'normalised block index' },
      { label: 'feature distance', size: 56, values: (_u, ticks) => formatTicks(ticks) },
    ],
  };
}
