// Curves: training loss (raw, faint, and its debiased EMA), learning rate and images/s, with
// a smoothing slider, a log-scale toggle and uPlot's hover read-out (the legend follows the
// cursor). Data come straight from the typed arrays of liveMetrics, once per frame.
import { useCallback, useEffect } from 'react';
import type uPlot from 'uplot';
import { useAppStore } from '../store/store.ts';
import { formatTicks, STEP_INCREMENTS } from './chart-format.ts';
import { KnnTrackChart } from './KnnTrackChart.tsx';
import { LiveChart } from './LiveChart.tsx';
import { Panel, Slider } from './controls.tsx';
import { liveMetrics } from './live.ts';

const LOSS_COLOR = '#2456c9';
const RAW_COLOR = 'rgba(36, 86, 201, 0.25)';

function fmt(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(digits);
}

export function CurvesPanel() {
  const smoothing = useAppStore((s) => s.settings.smoothing);
  const logScale = useAppStore((s) => s.settings.logScale);
  const setSetting = useAppStore((s) => s.setSetting);
  const step = useAppStore((s) => s.run.step);
  const loss = useAppStore((s) => s.run.smoothedLoss);
  useEffect(() => liveMetrics.invalidate(), [smoothing]);

  const lossOptions = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      scales: { x: { time: false }, y: logScale ? { distr: 3 } : {} },
      axes: [
        { label: 'step', incrs: STEP_INCREMENTS },
        { label: 'loss', size: 64, values: (_u, ticks) => formatTicks(ticks) },
      ],
      series: [
        { label: 'step', value: (_u, v) => (v === null ? '—' : String(v)) },
        { label: 'loss', stroke: RAW_COLOR, width: 1, value: (_u, v) => fmt(v) },
        { label: 'smoothed', stroke: LOSS_COLOR, width: 2, value: (_u, v) => fmt(v) },
      ],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
    }),
    [logScale],
  );
  const lossData = useCallback((): uPlot.AlignedData => {
    const s = liveMetrics.series;
    return [s.x(), s.column('loss'), liveMetrics.smoothedLoss(useAppStore.getState().settings.smoothing)];
  }, []);

  const paceOptions = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      scales: { x: { time: false }, lr: {}, ips: {} },
      axes: [
        { label: 'step', incrs: STEP_INCREMENTS },
        { scale: 'lr', label: 'learning rate', size: 70, values: (_u, ticks) => formatTicks(ticks) },
        { scale: 'ips', label: 'images/s', side: 1, grid: { show: false }, values: (_u, ticks) => formatTicks(ticks) },
      ],
      series: [
        { label: 'step' },
        { label: 'lr', scale: 'lr', stroke: '#b5651d', width: 2, value: (_u, v) => (v === null ? '—' : v.toExponential(3)) },
        { label: 'images/s', scale: 'ips', stroke: '#2e8b57', width: 1, value: (_u, v) => fmt(v, 1) },
      ],
      legend: { live: true },
    }),
    [],
  );
  const paceData = useCallback((): uPlot.AlignedData => {
    const s = liveMetrics.series;
    return [s.x(), s.column('lr'), s.column('imagesPerSec')];
  }, []);
  const subscribe = useCallback((redraw: () => void) => liveMetrics.subscribe(redraw), []);

  return (
    <Panel title="Curves" className="curves">
      <div className="chart-controls">
        <Slider label="Smoothing" value={smoothing} min={0} max={0.99} step={0.01} onChange={(v) => setSetting('smoothing', v)} format={(v) => v.toFixed(2)} />
        <div className="field toggle">
          <input id="log-scale" type="checkbox" checked={logScale} onChange={(e) => setSetting('logScale', e.target.checked)} />
          <label htmlFor="log-scale">Log-scale loss</label>
        </div>
      </div>
      <LiveChart
        options={lossOptions}
        getData={lossData}
        subscribe={subscribe}
        deps={[lossOptions]}
        height={220}
        label={`Training loss over ${step} steps${loss !== null ? `, smoothed loss now ${loss.toFixed(4)}` : ''}`}
        testId="loss-chart"
      />
      <KnnTrackChart />
      <LiveChart options={paceOptions} getData={paceData} subscribe={subscribe} deps={[paceOptions]} height={150} label="Learning rate and images per second over the steps" testId="pace-chart" />
      <p className="hint">Hover a chart to read values; drag across it to zoom, double-click to reset. The smoothed loss is a debiased exponential moving average (as TensorBoard's).</p>
    </Panel>
  );
}
