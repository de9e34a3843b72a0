// The run history as a table: loss, accuracy (with the random-init figure) and feature collapse
// side by side, every figure column sortable by clicking its header; and the comparison's verdict
// (which compared run won on accuracy, or that the difference is within noise).
import { useMemo, useState } from 'react';
import { ACCURACY_NAMES, accuracyOf, collapseOf, type CollapseMode } from '../store/run-evaluation.ts';
import type { RunRecord } from '../store/run-history.ts';
import { accuracyVerdict, nextSort, sortRuns, type RunSort, type RunSortKey } from '../store/run-table.ts';
import { useAppStore } from '../store/store.ts';
import { useBridge } from './bridge-context.ts';

const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(100 * x).toFixed(1)} %`);

function SortHeader({ label, k, sort, onSort }: { label: string; k: RunSortKey; sort: RunSort | null; onSort(k: RunSortKey): void }) {
  const active = sort?.key === k;
  return (
    <th scope="col" aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
      <button type="button" className="link sort" onClick={() => onSort(k)} data-testid={`sort-${k}`}>
        {label}
        {active ? (sort.descending ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
}

function modelText(r: RunRecord): string {
  const s = r.settings;
  const size = s.size === 'custom' ? `custom ${s.depths.join('-')}/${s.dims.join('-')}` : s.size;
  // runs stored before these options: GRN on, sparse encoder
  return `${size}${s.grn === false ? ', no GRN' : ''}${s.denseEncoder ? ', dense' : ''}, dec ${s.decoderDim}×${s.decoderDepth}`;
}

export function RunTable({ runs }: { runs: RunRecord[] }) {
  const compareIds = useAppStore((s) => s.compareIds);
  const toggleCompare = useAppStore((s) => s.toggleCompare);
  const bridge = useBridge();
  const [sort, setSort] = useState<RunSort | null>(null);
  const [collapse, setCollapse] = useState<CollapseMode>('mean');
  const rows = useMemo(() => (sort ? sortRuns(runs, sort, collapse) : runs), [runs, sort, collapse]);
  const onSort = (k: RunSortKey) => setSort(nextSort(sort, k));
  return (
    <>
      <div className="field toggle">
        <label htmlFor="collapse-mode">Collapse column</label>
        <select id="collapse-mode" value={collapse} onChange={(e) => setCollapse(e.target.value as CollapseMode)}>
          <option value="mean">mean distance over blocks</option>
          <option value="last">last block's distance</option>
        </select>
      </div>
      <div className="table-scroll">
        <table className="history" data-testid="history-table">
          <thead>
            <tr>
              <th scope="col">Compare</th>
              <SortHeader label="Run" k="name" sort={sort} onSort={onSort} />
              <th scope="col">Model</th>
              <SortHeader label="Mask" k="maskRatio" sort={sort} onSort={onSort} />
              <th scope="col">Batch</th>
              <SortHeader label="Steps" k="steps" sort={sort} onSort={onSort} />
              <SortHeader label="Loss (smoothed)" k="loss" sort={sort} onSort={onSort} />
              <SortHeader label="Accuracy (random init)" k="accuracy" sort={sort} onSort={onSort} />
              <SortHeader label={collapse === 'mean' ? 'Collapse (mean)' : 'Collapse (last block)'} k="collapse" sort={sort} onSort={onSort} />
              <SortHeader label="Images/s" k="imagesPerSec" sort={sort} onSort={onSort} />
              <SortHeader label="Date" k="date" sort={sort} onSort={onSort} />
              <th scope="col">
                <span className="visually-hidden">Delete</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const a = accuracyOf(r.evaluation);
              const c = collapseOf(r.evaluation, collapse);
              const cb = collapseOf(r.evaluation, collapse, true);
              return (
                <tr key={r.id}>
                  <td>
                    <input type="checkbox" checked={compareIds.includes(r.id)} onChange={() => toggleCompare(r.id)} aria-label={`Compare ${r.name}`} />
                  </td>
                  <td>{r.name}</td>
                  <td>{modelText(r)}</td>
                  <td>{r.settings.maskRatio}</td>
                  <td>{r.settings.batchSize}</td>
                  <td>{r.steps}</td>
                  <td>{r.smoothedLoss.toFixed(4)}</td>
                  <td data-testid="run-accuracy" title={a ? `${ACCURACY_NAMES[a.kind]} top-1 on ${a.valCount} validation images at step ${a.pretrainStep}` : 'not measured'}>
                    {a ? `${ACCURACY_NAMES[a.kind]} ${pct(a.top1)} (${pct(a.baselineTop1)})` : '—'}
                  </td>
                  <td data-testid="run-collapse">{c === null ? '—' : `${c.toFixed(3)}${cb !== null ? ` (${cb.toFixed(3)})` : ''}`}</td>
                  <td>{r.meanImagesPerSec.toFixed(1)}</td>
                  <td>{new Date(r.createdAt).toLocaleString()}</td>
                  <td>
                    <button type="button" className="link" onClick={() => void bridge?.deleteRun(r.id)} aria-label={`Delete ${r.name}`}>
                      delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="hint">Accuracy: the measurement that ended the run (a sweep's choice, else kNN, linear probe, fine-tune), random init of the same architecture in brackets. Collapse: mean pairwise cosine distance of the expansion channels (random init in brackets); low means collapsed.</p>
    </>
  );
}

/** The comparison's verdict on accuracy (within one binomial standard error of the winner's top-1 counts as noise). */
export function AccuracyVerdictLine({ runs }: { runs: RunRecord[] }) {
  const v = accuracyVerdict(runs);
  return (
    <p className={v.winner && !v.withinNoise ? 'verdict' : 'hint verdict'} role="status" data-testid="accuracy-verdict">
      {v.text}
    </p>
  );
}
