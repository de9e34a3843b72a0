// Training panel: the optimisation settings (batch, learning rate and its effective value,
// warmup, weight decay, steps, seed, target, mask ratio) and the transport bar.
import { useEffect, useRef, useState } from 'react';
import { effectiveLr } from '../train/lr-schedule.ts';
import { LIMITS, maxMaskRatio, visiblePatches, patchCount, type Settings } from '../store/settings.ts';
import { matchingTrainingPreset, trainingPreset, TRAINING_PRESETS, type TrainingPresetId } from '../store/training-presets.ts';
import { useAppStore } from '../store/store.ts';
import { formatDuration } from '../store/training-slice.ts';
import { NumberField, Panel, Select, Slider, Toggle } from './controls.tsx';
import { useBridge } from './bridge-context.ts';

export function formatLr(lr: number): string {
  return lr === 0 ? '0' : lr.toExponential(2);
}

export function MaskRatioSlider() {
  const maskRatio = useAppStore((s) => s.settings.maskRatio);
  const inputSize = useAppStore((s) => s.settings.inputSize);
  const setSetting = useAppStore((s) => s.setSetting);
  const top = maxMaskRatio(inputSize);
  const L = patchCount(inputSize);
  let kept = 0;
  try {
    kept = visiblePatches(inputSize, maskRatio);
  } catch {
    kept = 0;
  }
  return (
    <Slider
      label="Mask ratio"
      value={maskRatio}
      min={0}
      max={top}
      step={0.05 > top ? top || 0.01 : 0.05}
      onChange={(v) => setSetting('maskRatio', Math.min(top, Math.round(v * 100) / 100))}
      format={(v) => `${v.toFixed(2)} (${L - kept} of ${L} patches masked)`}
      testId="train-mask-ratio"
    />
  );
}

/** "Paper recipe" / "Quick look": one click sets their settings (a model change asks first, as any would). */
function TrainingPresets() {
  const settings = useAppStore((st) => st.settings);
  const current = matchingTrainingPreset(settings);
  const apply = (id: TrainingPresetId) => {
    const patch = trainingPreset(id).patch(useAppStore.getState().settings);
    const set = useAppStore.getState().setSetting;
    for (const [k, v] of Object.entries(patch)) set(k as keyof Settings, v as never);
  };
  return (
    <div className="training-presets" role="group" aria-label="Training presets">
      {TRAINING_PRESETS.map((p) => (
        <button key={p.id} type="button" aria-pressed={current === p.id} onClick={() => apply(p.id)} title={p.description}>
          {p.label}
        </button>
      ))}
      <span className="hint" data-testid="training-preset">
        {current ? trainingPreset(current).description : 'Custom settings (neither preset).'}
      </span>
    </div>
  );
}

export function TrainingPanel() {
  const s = useAppStore((st) => st.settings);
  const setSetting = useAppStore((st) => st.setSetting);
  const images = useAppStore((st) => st.dataset?.images ?? 0);
  const epochs = images > 0 ? (s.totalSteps * s.batchSize) / images : null;
  let lr = NaN;
  try {
    lr = effectiveLr(s.blr, s.batchSize);
  } catch {
    lr = NaN;
  }
  return (
    <Panel title="Training">
      <TrainingPresets />
      <div className="fields">
        <NumberField setting="batchSize" label="Batch size" min={LIMITS.batchSize.min} max={LIMITS.batchSize.max} />
        <NumberField setting="blr" label="Base learning rate" float min={0} step="any" hint={<span data-testid="effective-lr">effective lr = blr·batch/256 = {Number.isFinite(lr) ? formatLr(lr) : '—'}</span>} />
        <NumberField setting="warmupSteps" label="Warmup steps" min={0} />
        <NumberField setting="totalSteps" label="Steps" min={1} hint={epochs !== null ? `≈ ${epochs < 10 ? epochs.toFixed(1) : Math.round(epochs)} epochs of ${images} images` : undefined} />
        <NumberField setting="weightDecay" label="Weight decay" float min={0} max={1} step="any" />
        <Select
          label="Weight-decay rule"
          value={s.weightDecayRule}
          options={[
            { value: 'maintainers', label: "maintainers' advice: conv and linear weights only" },
            { value: 'official', label: 'official main_pretrain.py: also GRN and mask token' },
          ]}
          onChange={(v) => setSetting('weightDecayRule', v)}
          hint={
            s.weightDecayRule === 'official'
              ? 'As the official pretraining (timm add_weight_decay): every tensor with more than one dimension except biases decays, GRN gamma/beta and the mask token included. An export resumes in PyTorch exactly.'
              : 'GRN gamma/beta and the mask token are not decayed, as the maintainers advise (the fine-tuning code excludes GRN); the official pretraining decays them.'
          }
        />
        <NumberField setting="seed" label="Seed" min={0} />
        <Toggle setting="normPix" label="Normalised-pixel target" hint="each patch's own mean/std (recipe default)" />
        <Toggle
          setting="freezeEncoder"
          label="Freeze encoder (decoder warm-up)"
          hint={s.freezeEncoder ? 'the encoder’s weights stay as they are: only proj, mask token, decoder and pred train, no encoder backward' : 'train the decoder only, e.g. for a released encoder-only checkpoint'}
        />
      </div>
      <MaskRatioSlider />
    </Panel>
  );
}

export function TransportBar() {
  const run = useAppStore((s) => s.run);
  const datasetReady = useAppStore((s) => s.dataStatus === 'ready');
  const gpuOk = useAppStore((s) => s.gpu?.ok === true);
  const sweepRunning = useAppStore((s) => s.sweep.status === 'running');
  const bridge = useBridge();
  const running = run.status === 'running' || run.status === 'preparing';
  const canRun = gpuOk && datasetReady && !sweepRunning;
  const progress = run.totalSteps > 0 ? Math.min(1, run.step / run.totalSteps) : 0;
  return (
    <Panel title="Run" className="transport">
      <div className="buttons" role="group" aria-label="Training controls">
        <button type="button" className="primary" onClick={() => void bridge?.start()} disabled={!canRun || running}>
          Start
        </button>
        <button type="button" onClick={() => void bridge?.pause()} disabled={!running || sweepRunning}>
          Pause
        </button>
        <button type="button" onClick={() => void bridge?.step()} disabled={!canRun || running}>
          Step
        </button>
        <button type="button" onClick={() => void bridge?.reset()} disabled={!gpuOk || sweepRunning || run.status === 'preparing'}>
          Reset
        </button>
      </div>
      <progress max={1} value={progress} aria-label="Training progress" />
      <dl className="run-figures">
        <dt>Step</dt>
        <dd data-testid="step-counter">
          {run.step} / {run.totalSteps}
        </dd>
        <dt>Loss</dt>
        <dd data-testid="loss">{run.smoothedLoss !== null ? run.smoothedLoss.toFixed(4) : '—'}</dd>
        <dt>Images/s</dt>
        <dd>{run.imagesPerSec !== null ? run.imagesPerSec.toFixed(1) : '—'}</dd>
        <dt>Step time</dt>
        <dd>{run.stepMs !== null ? `${run.stepMs.toFixed(0)} ms` : '—'}</dd>
        <dt>ETA</dt>
        <dd>{run.status === 'running' ? formatDuration(run.etaSeconds) : '—'}</dd>
      </dl>
      <StatusRegion text={gpuOk ? statusLine(run) : 'Training needs WebGPU (see the message at the top).'} status={run.status} />
      {run.throttled && <p className="hint">The browser is throttling this tab: training continues in the worker; the page repaints less often.</p>}
      {run.error && (
        <div role="alert" className="run-error" data-testid="run-error">
          <strong>{run.error.message}</strong> {run.error.advice}
          {run.error.canContinue && (run.error.continuesFrom !== undefined ? <span data-testid="continues-from"> The weights of step {run.error.continuesFrom} are kept: Start continues from step {run.error.continuesFrom}.</span> : ' The last good weights are kept: Start continues from them.')}
        </div>
      )}
    </Panel>
  );
}

/** Announcements at most every ANNOUNCE_MS while training (a screen reader cannot keep up with every step); at once when the state changes. */
const ANNOUNCE_MS = 2000;

function StatusRegion({ text, status }: { text: string; status: string }) {
  const [shown, setShown] = useState(text);
  const last = useRef({ at: 0, status });
  useEffect(() => {
    const now = Date.now();
    if (status !== last.current.status || now - last.current.at >= ANNOUNCE_MS) {
      last.current = { at: now, status };
      setShown(text);
      return;
    }
    const timer = setTimeout(() => {
      last.current = { at: Date.now(), status };
      setShown(text);
    }, ANNOUNCE_MS - (now - last.current.at));
    return () => clearTimeout(timer);
  }, [text, status]);
  return (
    <p role="status" aria-live="polite" className="run-status" data-testid="run-status">
      {shown}
    </p>
  );
}

function statusLine(run: ReturnType<typeof useAppStore.getState>['run']): string {
  const loss = run.smoothedLoss !== null ? `, loss ${run.smoothedLoss.toFixed(4)}` : '';
  switch (run.status) {
    case 'idle':
      return run.step > 0 ? `Step ${run.step}${loss}.` : 'Ready. Press Start to train.';
    case 'preparing':
      return run.activity ?? 'Preparing…';
    case 'running':
      return `Training: step ${run.step}${loss}.`;
    case 'paused':
      return `Paused at step ${run.step}${loss}.`;
    case 'finished':
      return `Finished at step ${run.step}${loss}.`;
    case 'stopped':
      return `Stopped at step ${run.step}${loss}.`;
  }
}
