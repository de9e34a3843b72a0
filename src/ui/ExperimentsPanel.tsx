// Experiments: a mask-ratio sweep (one fresh run per ratio, same seed and data, run one after
// another in the worker), the overlay of the compared runs' curves, their final
// reconstructions side by side at a common evaluation mask ratio, and the run history
// (IndexedDB) with compare / delete / export.
import { useCallback, useEffect, useMemo, useState } from 'react';
import uPlot from 'uplot';
import { debiasedEma } from '../store/series.ts';
import { differingSettings, runsToCsv, runsToJson, type RunRecord } from '../store/run-history.ts';
import { maxMaskRatio } from '../store/settings.ts';
import { useAppStore } from '../store/store.ts';
import { useBridge } from './bridge-context.ts';
import { download, NumberField, Panel } from './controls.tsx';
import { formatTicks, STEP_INCREMENTS } from './chart-format.ts';
import { StaticChart } from './LiveChart.tsx';
import { AccuracyVerdictLine, RunTable } from './RunTable.tsx';
import { NumberListField, SweepSetup } from './SweepSetup.tsx';
import { CollapseOverlay } from './CollapseOverlay.tsx';

const PALETTE = ['#2456c9', '#d1495b', '#2e8b57', '#b5651d', '#7b3fb3', '#0f8b8d', '#c9a227', '#555'];

function SweepRatiosField() {
  const inputSize = useAppStore((s) => s.settings.inputSize);
  const top = maxMaskRatio(inputSize);
  return <NumberListField id="sweep-ratios" setting="sweepRatios" label="Mask ratios to compare" check={(parts) => (parts.some((r) => r > top) ? `ratios above ${top} leave no visible patch at ${inputSize} px` : null)} />;
}

function OverlayChart({ runs }: { runs: RunRecord[] }) {
  const smoothing = useAppStore((s) => s.settings.smoothing);
  const logScale = useAppStore((s) => s.settings.logScale);
  const data = useMemo((): uPlot.AlignedData => {
    if (runs.length === 0) return [[]];
    const tables = runs.map((r) => [Float64Array.from(r.curves.step), debiasedEma(r.curves.loss, smoothing)] as uPlot.AlignedData);
    return uPlot.join(tables);
  }, [runs, smoothing]);
  const options = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      scales: { x: { time: false }, y: logScale ? { distr: 3 } : {} },
      axes: [
        { label: 'step', incrs: STEP_INCREMENTS },
        { label: 'smoothed loss', size: 64, values: (_u, ticks) => formatTicks(ticks) },
      ],
      series: [{ label: 'step' }, ...runs.map((r, i) => ({ label: r.name, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, value: (_u: uPlot, v: number | null) => (v === null ? '—' : v.toFixed(4)) }))],
      legend: { live: true },
    }),
    [runs, logScale],
  );
  return (
    <StaticChart
      options={options}
      data={data}
      height={220}
      label={`Smoothed loss of ${runs.length} runs: ${runs.map((r) => `${r.name} ends at ${r.smoothedLoss.toFixed(4)}`).join('; ')}`}
      testId="overlay-chart"
    />
  );
}

function RunReconstruction({ run, color }: { run: RunRecord; color: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!run.reconstruction) return;
    const u = URL.createObjectURL(run.reconstruction.png);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [run.reconstruction]);
  if (!run.reconstruction || !url) return null;
  return (
    <figure className="run-recon" style={{ borderColor: color }}>
      <img src={url} alt={`Final reconstructions of ${run.name} at evaluation mask ratio ${run.reconstruction.maskRatio}`} />
      <figcaption>
        {run.name}: loss {run.smoothedLoss.toFixed(4)}
      </figcaption>
    </figure>
  );
}

export function ExperimentsPanel() {
  const runs = useAppStore((s) => s.runs);
  const compareIds = useAppStore((s) => s.compareIds);
  const sweep = useAppStore((s) => s.sweep);
  const historyError = useAppStore((s) => s.historyError);
  const gpuOk = useAppStore((s) => s.gpu?.ok === true);
  const dataReady = useAppStore((s) => s.dataStatus === 'ready');
  const trainingBusy = useAppStore((s) => s.run.status === 'preparing');
  const stepsDone = useAppStore((s) => s.run.step);
  const bridge = useBridge();
  const compared = runs.filter((r) => compareIds.includes(r.id));
  const differing = differingSettings(compared);
  const running = sweep.status === 'running';
  const exportRuns = compared.length > 0 ? compared : runs;
  const stamp = () => new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  return (
    <Panel title="Experiments" className="experiments">
      <SweepSetup ratiosField={<SweepRatiosField />} disabled={running} />
      <div className="fields">
        <NumberField setting="sweepSteps" label="Steps per run" min={1} />
      </div>
      <div className="buttons">
        <button type="button" className="primary" onClick={() => void bridge?.runSweep()} disabled={!bridge || !gpuOk || !dataReady || running || trainingBusy}>
          Run sweep
        </button>
        <button type="button" onClick={() => void bridge?.cancelSweep()} disabled={!running}>
          Cancel sweep
        </button>
        <button
          type="button"
          onClick={() => {
            const s = useAppStore.getState();
            void bridge?.recordRun(s.settings, s.live);
          }}
          disabled={!bridge || stepsDone === 0 || running}
        >
          Save current run
        </button>
      </div>
      <p role="status" className="hint" data-testid="sweep-status">
        {running && `Run ${sweep.index + 1} of ${sweep.ratios.length}: ${sweep.names[sweep.index] ?? `mask ratio ${sweep.ratios[sweep.index]}`}, ${sweep.phase === 'evaluating' ? 'measuring the encoder' : `${sweep.steps} steps`}…`}
        {sweep.status === 'finished' && `Sweep finished: ${sweep.runIds.length} runs, compared below at evaluation mask ratio ${sweep.evalMaskRatio}.`}
        {sweep.status === 'cancelled' && `Sweep cancelled after ${sweep.runIds.length} runs.`}
        {sweep.status === 'failed' && `Sweep stopped: ${sweep.error}`}
      </p>
      {compared.length > 0 && (
        <>
          <h3>Compared runs</h3>
          <OverlayChart runs={compared} />
          {differing.length > 0 && <p className="hint">They differ in: {differing.join(', ')}.</p>}
          <AccuracyVerdictLine runs={compared} />
          <CollapseOverlay runs={compared} palette={PALETTE} />
          <div className="run-recons" data-testid="run-recons">
            {compared.map((r, i) => (
              <RunReconstruction key={r.id} run={r} color={PALETTE[i % PALETTE.length]!} />
            ))}
          </div>
        </>
      )}
      <h3>Run history</h3>
      {historyError && <p className="warning">{historyError}</p>}
      {runs.length === 0 ? (
        <p className="hint">Finished sweeps and saved runs appear here and stay across reloads.</p>
      ) : (
        <>
          <RunTable runs={runs} />
          <div className="buttons">
            <button type="button" onClick={() => download(runsToCsv(exportRuns), `fcmae-runs-${stamp()}.csv`, 'text/csv')}>
              Export CSV{compared.length > 0 ? ' (compared)' : ''}
            </button>
            <button type="button" onClick={() => download(runsToJson(exportRuns), `fcmae-runs-${stamp()}.json`, 'application/json')}>
              Export JSON{compared.length > 0 ? ' (compared)' : ''}
            </button>
          </div>
        </>
      )}
    </Panel>
  );
}
