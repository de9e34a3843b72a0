// kNN accuracy during pretraining (the "track kNN every N steps" option), drawn beside the loss
// in the Curves panel: one point per tracked step, the random-init figure as a dashed line. The
// points come from the worker's 'knn-track' events (the same probe as the "kNN probe" button,
// on the evaluation subset).
import { useCallback, useMemo } from 'react';
import type uPlot from 'uplot';
import { useAppStore } from '../store/store.ts';
import { STEP_INCREMENTS } from './chart-format.ts';
import { StaticChart } from './LiveChart.tsx';

export function KnnTrackChart() {
  const track = useAppStore((s) => s.knnTrack);
  const every = useAppStore((s) => s.settings.knnEvery);
  const data = useMemo((): uPlot.AlignedData => {
    const x = Float64Array.from(track.step);
    return [x, Float64Array.from(track.top1, (v) => v * 100), Float64Array.from(track.step, () => (track.baselineTop1 === null ? NaN : track.baselineTop1 * 100))];
  }, [track]);
  const options = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      scales: { x: { time: false }, y: { range: [0, 100] } },
      axes: [
        { label: 'pretraining step', incrs: STEP_INCREMENTS },
        { label: 'kNN top-1 (%)', size: 56 },
      ],
      series: [
        { label: 'step' },
        { label: 'kNN top-1', stroke: '#7b3fb3', width: 2, points: { show: true, size: 7 }, value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)} %`) },
        { label: 'random init', stroke: '#d1495b', width: 1.5, dash: [6, 4], value: (_u, v) => (v === null || !Number.isFinite(v) ? '—' : `${v.toFixed(1)} %`) },
      ],
      legend: { live: true },
    }),
    [],
  );
  if (every === 0 && track.step.length === 0) return null;
  const last = track.top1.length ? `${(100 * track.top1[track.top1.length - 1]!).toFixed(1)} % at step ${track.step[track.step.length - 1]}` : 'no point yet';
  return (
    <div className="knn-track" data-testid="knn-track">
      <h3>kNN accuracy during pretraining</h3>
      {track.step.length > 0 ? (
        <StaticChart
          options={options}
          data={data}
          height={160}
          label={`kNN top-1 at ${track.step.length} tracked steps: ${track.step.map((s, i) => `step ${s} ${(100 * track.top1[i]!).toFixed(1)} %`).join(', ')}${track.baselineTop1 !== null ? `; random init ${(100 * track.baselineTop1).toFixed(1)} %` : ''}`}
          testId="knn-track-chart"
        />
      ) : null}
      <p className="hint" data-testid="knn-track-status">
        {every > 0 ? `Every ${every} steps, kNN (k 20) on ${track.valCount || '…'} held-out images of the evaluation subset: ${last}.` : `Tracking is off: ${last}.`}
        {track.error && <span className="warning"> {track.error}</span>}
      </p>
    </div>
  );
}
