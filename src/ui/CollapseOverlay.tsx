// The compared runs' feature-collapse curves overlaid (the paper's Fig. 4 across settings): each
// stored run's distance per block against the normalised block index (block k of K at
// k / (K − 1)), and the random initialisation of the first measured run dashed. Shown only when
// at least one compared run has a collapse curve stored with it.
import { useCallback, useMemo } from 'react';
import uPlot from 'uplot';
import type { RunRecord } from '../store/run-history.ts';
import { collapseChartFrame } from './chart-format.ts';
import { StaticChart } from './LiveChart.tsx';

const normalisedIndex = (n: number) => Float64Array.from({ length: n }, (_, k) => (n > 1 ? k / (n - 1) : 0));

export function CollapseOverlay({ runs, palette }: { runs: RunRecord[]; palette: readonly string[] }) {
  const measured = useMemo(() => runs.map((r, i) => ({ r, color: palette[i % palette.length]!, c: r.evaluation?.collapse })).filter((x) => x.c !== undefined), [runs, palette]);
  const baseline = measured.find((m) => m.c!.baselineDistance)?.c!.baselineDistance ?? null;
  const data = useMemo((): uPlot.AlignedData => {
    const tables = measured.map((m) => [normalisedIndex(m.c!.distance.length), Float64Array.from(m.c!.distance)] as uPlot.AlignedData);
    if (baseline) tables.push([normalisedIndex(baseline.length), Float64Array.from(baseline)]);
    return tables.length ? uPlot.join(tables) : [[]];
  }, [measured, baseline]);
  const options = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      ...collapseChartFrame(),
      series: [
        { label: 'block', value: (_u, v) => (v === null ? '—' : v.toFixed(2)) },
        ...measured.map((m) => ({ label: m.r.name, stroke: m.color, width: 2, spanGaps: true, points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => (v === null ? '—' : v.toFixed(3)) })),
        ...(baseline ? [{ label: 'random init', stroke: '#888', width: 1.5, dash: [6, 4], spanGaps: true, value: (_u: uPlot, v: number | null) => (v === null ? '—' : v.toFixed(3)) }] : []),
      ],
      legend: { live: true },
    }),
    [measured, baseline],
  );
  if (measured.length === 0) return null;
  return (
    <StaticChart
      options={options}
      data={data}
      height={200}
      label={`Feature distance per block of ${measured.length} runs: ${measured.map((m) => `${m.r.name} ${m.c!.distance.map((d) => d.toFixed(3)).join(', ')}`).join('; ')}`}
      testId="collapse-overlay-chart"
    />
  );
}
