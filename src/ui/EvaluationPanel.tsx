// Evaluation: what pretraining taught the encoder (evaluation-spec), measured on labelled
// images (the Fashion-MNIST demo set or the loaded data set's class folders): kNN and linear
// probes of frozen features, a short fine-tune, and the feature-collapse curve per block, each
// beside a random initialisation of the same architecture and stamped with the pretraining
// step it measured, and the activation grid of one block (ActivationGrid.tsx). The
// reconstruction loss says nothing about this (ConvNeXt-V2 #11).
// Results live in the store (evaluation-slice.ts); the charts are static uPlot charts.
import { useCallback, useMemo } from 'react';
import uPlot from 'uplot';
import { type EvaluationKind, type EvaluationResult } from '../store/evaluation-slice.ts';
import { useAppStore } from '../store/store.ts';
import type { FineTuneResult, LabelledSource } from '../worker/protocol.ts';
import { ActivationGridControls, ActivationGridResultView } from './ActivationGrid.tsx';
import { useBridge } from './bridge-context.ts';
import { collapseChartFrame, formatTicks, STEP_INCREMENTS } from './chart-format.ts';
import { NumberField, Panel } from './controls.tsx';
import { StaticChart } from './LiveChart.tsx';

const CURRENT_COLOR = '#2456c9';
const RANDOM_COLOR = '#d1495b';

const BUTTONS: readonly { kind: EvaluationKind; label: string }[] = [
  { kind: 'knn', label: 'kNN probe' },
  { kind: 'linear', label: 'Linear probe' },
  { kind: 'finetune', label: 'Fine-tune' },
  { kind: 'collapse', label: 'Feature collapse' },
];
/** Its own row, with its block and image choice. */
const GRID_LABEL = 'Activation grid';

const percent = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(1)} %`);
const dataName = (d: LabelledSource) => (d === 'fashion-demo' ? 'Fashion demo set' : "the data set's class folders");

/** The one-line read-out of a result (what the tests and a reader look for). */
export function resultText(r: EvaluationResult): string {
  switch (r.kind) {
    case 'knn':
    case 'linear': {
      const p = r.probe;
      const name = r.kind === 'knn' ? 'kNN' : 'Linear probe';
      return `${name} top-1 ${percent(p.top1)} (random init ${percent(p.baselineTop1)}, chance ${percent(1 / p.classes.length)}) at step ${r.pretrainStep}; ${p.trainCount} train / ${p.valCount} validation images, ${dataName(r.data)}`;
    }
    case 'finetune': {
      const f = r.finetune;
      const base = r.baseline ? percent(r.baseline.top1) : 'not run';
      return `Fine-tune val top-1 ${percent(f.top1)} (random init ${base}, chance ${percent(1 / f.classes.length)}) at step ${r.pretrainStep}; ${f.settings.totalSteps} steps of ${f.settings.batchSize} at ${f.settings.inputSize} px, ${f.trainCount} train / ${f.valCount} validation images, ${dataName(r.data)}`;
    }
    case 'collapse': {
      const c = r.collapse;
      const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      const base = c.baselineDistance ? mean(c.baselineDistance).toFixed(3) : '—';
      return `Feature collapse: mean distance ${mean(c.distance).toFixed(3)} (random init ${base}) over ${c.blocks.length} blocks, ${c.images} images, at step ${r.pretrainStep}`;
    }
    case 'grid': {
      const g = r.grid;
      return `Activation grid: stage ${g.stage} block ${g.block}, image ${g.image} of ${g.images} (${g.className}), the first ${g.current.count} of ${g.current.channels} channels (${g.current.width}×${g.current.height} sites), each scaled to [0, 1], at step ${r.pretrainStep}${g.baseline ? ', random init beside' : ''}; ${dataName(r.data)}`;
    }
  }
}

function DataChoice({ disabled }: { disabled: boolean }) {
  const data = useAppStore((s) => s.settings.evalData);
  const setSetting = useAppStore((s) => s.setSetting);
  const setData = (d: LabelledSource) => setSetting('evalData', d);
  const classes = useAppStore((s) => s.dataset?.classes.length ?? 0);
  const folderOk = classes >= 2;
  const choice = folderOk ? data : 'fashion-demo';
  return (
    <fieldset className="evaluation-data" disabled={disabled}>
      <legend>Labelled images</legend>
      <label>
        <input type="radio" name="evaluation-data" value="fashion-demo" checked={choice === 'fashion-demo'} onChange={() => setData('fashion-demo')} /> Labelled demo set (Fashion-MNIST, 1000 images)
      </label>
      <label>
        <input type="radio" name="evaluation-data" value="dataset" checked={choice === 'dataset'} disabled={!folderOk} onChange={() => setData('dataset')} /> This data set's class folders
      </label>
      {!folderOk && (
        <span className="hint" data-testid="evaluation-dataset-reason">
          Unavailable: the loaded data set has {classes === 1 ? 'one class folder' : 'no class folders'}; it needs at least 2.
        </span>
      )}
    </fieldset>
  );
}

function Progress() {
  const run = useAppStore((s) => s.evaluation);
  const bridge = useBridge();
  if (run.status !== 'running') return null;
  const p = run.progress;
  const phase = p ? { data: 'reading images', train: 'training', evaluate: p.task === 'finetune' ? 'validating' : p.task === 'grid' ? 'computing maps' : 'embedding' }[p.phase] : 'starting';
  return (
    <div className="evaluation-running" data-testid="evaluation-running">
      <span>
        {run.label}: {phase}
        {p ? ` ${p.done} / ${p.total}` : '…'}
        {p?.loss !== undefined ? `, loss ${p.loss.toFixed(4)}` : ''}
        {p?.valTop1 !== undefined ? `, val top-1 ${percent(p.valTop1)}` : ''}
      </span>
      <progress data-testid="evaluation-progress" value={p ? p.done : undefined} max={p ? Math.max(1, p.total) : undefined} />
      <button type="button" data-testid="evaluation-cancel" onClick={() => bridge?.cancelEvaluation()}>
        Cancel
      </button>
    </div>
  );
}

function Outcome() {
  const run = useAppStore((s) => s.evaluation);
  if (run.status === 'cancelled')
    return (
      <p className="hint" role="status" data-testid="evaluation-status">
        {(run.kind === 'grid' ? GRID_LABEL : BUTTONS.find((b) => b.kind === run.kind)?.label) ?? 'Evaluation'} cancelled; earlier results are kept.
      </p>
    );
  if (run.status === 'failed' && run.error)
    return (
      <div className="banner warning" role="alert" data-testid="evaluation-error">
        {run.error.message}
        {run.error.suggestion && <span className="advice"> {run.error.suggestion}</span>}
      </div>
    );
  return null;
}

/** Training loss per step and validation top-1 points, current encoder and random init overlaid. */
function FineTuneChart({ current, baseline }: { current: FineTuneResult; baseline: FineTuneResult | null }) {
  const runs = useMemo(() => [{ name: 'current', r: current, color: CURRENT_COLOR }, ...(baseline ? [{ name: 'random init', r: baseline, color: RANDOM_COLOR }] : [])], [current, baseline]);
  const data = useMemo(
    (): uPlot.AlignedData =>
      uPlot.join(
        runs.flatMap(({ r }) => [
          [Float64Array.from(r.curve, (c) => c.step), Float64Array.from(r.curve, (c) => c.loss)] as uPlot.AlignedData,
          [Float64Array.from(r.evaluations, (e) => e.step), Float64Array.from(r.evaluations, (e) => e.top1 * 100)] as uPlot.AlignedData,
        ]),
      ),
    [runs],
  );
  const options = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      scales: { x: { time: false }, y: {}, acc: { range: [0, 100] } },
      axes: [
        { label: 'fine-tuning step', incrs: STEP_INCREMENTS },
        { label: 'training loss', size: 60, values: (_u, ticks) => formatTicks(ticks) },
        { scale: 'acc', label: 'val top-1 (%)', side: 1, grid: { show: false } },
      ],
      series: [
        { label: 'step' },
        ...runs.flatMap(({ name, color }) => [
          { label: `loss (${name})`, stroke: color, width: 1.5, spanGaps: true, value: (_u: uPlot, v: number | null) => (v === null ? '—' : v.toFixed(4)) },
          { label: `val top-1 (${name})`, scale: 'acc', stroke: color, paths: () => null, points: { show: true, size: 9, fill: color }, value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${v.toFixed(1)} %`) },
        ]),
      ],
      legend: { live: true },
    }),
    [runs],
  );
  return (
    <StaticChart
      options={options}
      data={data}
      height={200}
      label={`Fine-tuning loss over ${current.curve.length} steps and validation top-1 ${percent(current.top1)}${baseline ? ` (random init ${percent(baseline.top1)})` : ''}`}
      testId="evaluation-finetune-chart"
    />
  );
}

/** confusion[true][predicted], shaded by the row's fraction. */
function ConfusionMatrix({ result }: { result: FineTuneResult }) {
  const { classes, confusion } = result;
  return (
    <div className="confusion-wrap">
      <table className="confusion" data-testid="evaluation-confusion" aria-label="Confusion matrix: rows are true classes, columns predicted classes">
        <thead>
          <tr>
            <th scope="col">true \ predicted</th>
            {classes.map((c, j) => (
              <th key={c} scope="col" title={c}>
                {j}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {confusion.map((row, i) => {
            const total = row.reduce((a, b) => a + b, 0);
            return (
              <tr key={classes[i] ?? i}>
                <th scope="row">
                  {i} {classes[i]}
                </th>
                {row.map((n, j) => {
                  const f = total > 0 ? n / total : 0;
                  return (
                    <td key={j} title={`true ${classes[i]}, predicted ${classes[j]}: ${n}`} style={{ background: `rgba(36, 86, 201, ${(f * 0.85).toFixed(3)})`, color: f > 0.5 ? '#fff' : undefined }}>
                      {n}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Distance per block against the normalised block index (the paper's Fig. 4). */
function CollapseChart({ result }: { result: Extract<EvaluationResult, { kind: 'collapse' }> }) {
  const c = result.collapse;
  const data = useMemo((): uPlot.AlignedData => [Float64Array.from(c.blocks, (b) => b.normalisedIndex), Float64Array.from(c.distance), ...(c.baselineDistance ? [Float64Array.from(c.baselineDistance)] : [])], [c]);
  const options = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      ...collapseChartFrame(),
      series: [
        { label: 'block', value: (_u, v) => (v === null ? '—' : v.toFixed(2)) },
        { label: `current (step ${result.pretrainStep})`, stroke: CURRENT_COLOR, width: 2, points: { show: true, size: 6 }, value: (_u, v) => (v === null ? '—' : v.toFixed(3)) },
        ...(c.baselineDistance ? [{ label: 'random init', stroke: RANDOM_COLOR, width: 2, dash: [6, 4], points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => (v === null ? '—' : v.toFixed(3)) }] : []),
      ],
      legend: { live: true },
    }),
    [c, result.pretrainStep],
  );
  return (
    <StaticChart
      options={options}
      data={data}
      height={200}
      label={`Feature distance per block, ${c.blocks.length} blocks: current ${c.distance.map((d) => d.toFixed(3)).join(', ')}${c.baselineDistance ? `; random init ${c.baselineDistance.map((d) => d.toFixed(3)).join(', ')}` : ''}`}
      testId="evaluation-collapse-chart"
    />
  );
}

export function EvaluationPanel() {
  const results = useAppStore((s) => s.evaluationResults);
  const running = useAppStore((s) => s.evaluation.status === 'running');
  const sweepRunning = useAppStore((s) => s.sweep.status === 'running');
  const clear = useAppStore((s) => s.clearEvaluationResults);
  const bridge = useBridge();
  const latest = (kind: EvaluationKind) => results.findLast((r) => r.kind === kind);
  const knn = latest('knn');
  const linear = latest('linear');
  const finetune = latest('finetune') as Extract<EvaluationResult, { kind: 'finetune' }> | undefined;
  const collapse = latest('collapse') as Extract<EvaluationResult, { kind: 'collapse' }> | undefined;
  const grid = latest('grid') as Extract<EvaluationResult, { kind: 'grid' }> | undefined;
  const disabled = !bridge || running || sweepRunning;
  const evaluationSettings = useAppStore((s) => s.evaluationSettings);
  const ft = evaluationSettings.finetune;
  // the settings keep the user's choice; a data set without classes falls back to the demo set (evaluation-runner.ts)
  const run = (kind: EvaluationKind) => void bridge?.runEvaluation(kind);
  return (
    <Panel title="Evaluation" className="evaluation">
      <p className="hint">
        What the encoder learned, measured on labelled images beside a random initialisation of the same architecture. The reconstruction loss cannot tell this: it rises with the mask ratio whatever the encoder learned.
      </p>
      <DataChoice disabled={running} />
      <div className="buttons evaluation-buttons">
        {BUTTONS.map((b) => (
          <button key={b.kind} type="button" disabled={disabled} onClick={() => run(b.kind)}>
            {b.label}
          </button>
        ))}
      </div>
      <ActivationGridControls disabled={disabled} onRun={() => run('grid')} />
      <p className="hint" data-testid="evaluation-settings">
        Quick settings: probes on frozen features with 20 % of each class held out (kNN k = 20, T = 0.07; linear probe 100 epochs); fine-tune {ft.totalSteps} steps of {ft.batchSize} images at the run's input size (small-data recipe,
        validated every {ft.evalEvery} steps), then the same from a random init; feature collapse over {evaluationSettings.collapseImages} images; the activation grid shows the chosen block's first 64 channel maps for one labelled image. Pretraining pauses while one runs.
      </p>
      <div className="fields">
        <NumberField setting="knnEvery" label="Track kNN every N steps" min={0} hint="0: off. Pretraining pauses at those steps for the kNN probe; the curve is drawn beside the loss." />
        <NumberField setting="evalSubset" label="Evaluation subset (images)" min={20} hint="class-balanced images of kNN tracking and of sweep probes (20 % held out): smaller is quicker, noisier" />
      </div>
      {sweepRunning && <p className="hint">A sweep is running: evaluate when it has finished.</p>}
      {results.some((r) => r.pretrainStep === 0) && (
        <p className="hint" data-testid="evaluation-step0-note">
          At step 0 the current encoder is itself a random initialisation: pretrain first to see what FCMAE adds.
        </p>
      )}
      <Progress />
      <Outcome />
      {results.length > 0 && (
        <div className="evaluation-results">
          {knn && <p data-testid="evaluation-result-knn">{resultText(knn)}</p>}
          {linear && <p data-testid="evaluation-result-linear">{resultText(linear)}</p>}
          {finetune && (
            <>
              <p data-testid="evaluation-result-finetune">{resultText(finetune)}</p>
              <FineTuneChart current={finetune.finetune} baseline={finetune.baseline} />
              <h3>Confusion matrix (fine-tuned current encoder, validation images)</h3>
              <ConfusionMatrix result={finetune.finetune} />
            </>
          )}
          {collapse && (
            <>
              <p data-testid="evaluation-result-collapse">{resultText(collapse)}</p>
              <CollapseChart result={collapse} />
              <p className="hint">Mean pairwise cosine distance of each block's expansion channels (0: all channels alike, collapsed; 0.5: orthogonal). V1 + FCMAE collapses; GRN keeps V2's high.</p>
            </>
          )}
          {grid && (
            <>
              <p data-testid="evaluation-result-grid">{resultText(grid)}</p>
              <ActivationGridResultView result={grid} />
              <p className="hint">Each panel is one channel of the block's expansion activations (after GRN; after GELU without GRN), scaled to its own [0, 1]: white the channel's highest response, black its lowest (the paper's Fig. 3).</p>
            </>
          )}
          <details>
            <summary>All results ({results.length})</summary>
            <ol className="evaluation-history" data-testid="evaluation-history">
              {results.map((r) => (
                <li key={r.id}>{resultText(r)}</li>
              ))}
            </ol>
            <button type="button" disabled={running} onClick={clear}>
              Clear results
            </button>
          </details>
        </div>
      )}
    </Panel>
  );
}
