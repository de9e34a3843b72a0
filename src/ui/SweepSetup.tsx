// What a sweep varies and how its runs are judged: the axis (mask ratio, GRN on/off, sparse or
// dense encoder, decoder depth or width), its values, the evaluation that ends each run, and the
// one-click ablation presets (the paper's ablations at toy scale, its ImageNet figures beside).
import { useEffect, useState } from 'react';
import { ABLATION_PRESETS, ablationPatch, matchingAblationPreset, type AblationPreset } from '../store/ablation-presets.ts';
import { maxMaskRatio, SWEEP_AXES, type Settings, type SweepAxis, type SweepEvaluation } from '../store/settings.ts';
import { DEFAULT_SWEEP_VALUES, SWEEP_AXIS_LABELS, sweepVariants } from '../store/sweep-plan.ts';
import { useAppStore } from '../store/store.ts';
import { Select } from './controls.tsx';

const EVALUATION_OPTIONS: readonly { value: SweepEvaluation; label: string }[] = [
  { value: 'knn', label: 'kNN probe' },
  { value: 'linear', label: 'Linear probe' },
  { value: 'finetune', label: 'Short fine-tune' },
  { value: 'none', label: 'None (loss only)' },
];

/** A comma-separated list of numbers bound to one setting; `check` refuses a list before the setting's own validation. */
export function NumberListField({ id, setting, label, check }: { id: string; setting: 'sweepRatios' | 'sweepValues'; label: string; check?: (values: number[]) => string | null }) {
  const values = useAppStore((s) => s.settings[setting]);
  const setSetting = useAppStore((s) => s.setSetting);
  const error = useAppStore((s) => s.settingErrors[setting]);
  const [text, setText] = useState(values.join(', '));
  useEffect(() => setText(values.join(', ')), [values]);
  const commit = () => {
    const parts = text.split(/[\s,]+/).filter(Boolean).map(Number);
    const problem = check?.(parts) ?? null;
    if (problem) {
      useAppStore.setState((s) => ({ settingErrors: { ...s.settingErrors, [setting]: problem } }));
      return;
    }
    setSetting(setting, parts);
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="text" value={text} onChange={(e) => setText(e.target.value)} onBlur={commit} onKeyDown={(e) => e.key === 'Enter' && commit()} aria-describedby={`${id}-err`} />
      {error && (
        <span id={`${id}-err`} className="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

function SweepValuesField() {
  const axis = useAppStore((s) => s.settings.sweepAxis);
  return <NumberListField id="sweep-values" setting="sweepValues" label={axis === 'decoderDepth' ? 'Decoder depths to compare' : 'Decoder widths to compare'} />;
}

/** Sets the preset's sweep; mask ratios above what the input size allows are lowered (and merged). */
export function applyAblationPreset(p: AblationPreset): void {
  const st = useAppStore.getState();
  const patch = ablationPatch(p);
  if (patch.sweepRatios) {
    const top = maxMaskRatio(st.settings.inputSize);
    patch.sweepRatios = [...new Set(patch.sweepRatios.map((r) => Math.min(r, top)))];
  }
  for (const [k, v] of Object.entries(patch)) st.setSetting(k as keyof Settings, v as never);
}

function sweepEvalHint(s: Settings, finetuneSteps: number): string {
  switch (s.sweepEval) {
    case 'none':
      return 'the loss cannot rank settings: it rises with the mask ratio whatever was learned';
    case 'finetune':
      return `${finetuneSteps} fine-tuning steps of the encoder and of a random init on all labelled images, then feature collapse`;
    default:
      return `on ${s.evalSubset} images of the evaluation subset, beside a random init, then feature collapse`;
  }
}

export function SweepSetup({ ratiosField, disabled }: { ratiosField: React.ReactNode; disabled: boolean }) {
  const settings = useAppStore((s) => s.settings);
  const finetuneSteps = useAppStore((s) => s.evaluationSettings.finetune.totalSteps);
  const setSetting = useAppStore((s) => s.setSetting);
  const preset = matchingAblationPreset(settings);
  const chooseAxis = (axis: SweepAxis) => {
    setSetting('sweepAxis', axis);
    const values = DEFAULT_SWEEP_VALUES[axis];
    if (values) setSetting('sweepValues', values);
  };
  const runs = sweepVariants(settings);
  return (
    <div className="sweep-setup">
      <div className="ablation-presets" role="group" aria-label="Ablation presets">
        <span className="hint">Paper ablations at toy scale:</span>
        {ABLATION_PRESETS.map((p) => (
          <button key={p.id} type="button" disabled={disabled} aria-pressed={preset?.id === p.id} onClick={() => applyAblationPreset(p)} title={p.paper}>
            {p.label}
          </button>
        ))}
      </div>
      {preset && (
        <p className="hint" data-testid="ablation-paper">
          For reference, {preset.paper}. At this scale (minutes, a few hundred images) the measurement is what to watch, not these numbers.
        </p>
      )}
      <div className="fields">
        <Select label="Sweep over" value={settings.sweepAxis} options={SWEEP_AXES.map((a) => ({ value: a, label: SWEEP_AXIS_LABELS[a] }))} onChange={chooseAxis} disabled={disabled} />
        {settings.sweepAxis === 'maskRatio' && ratiosField}
        {(settings.sweepAxis === 'decoderDepth' || settings.sweepAxis === 'decoderDim') && <SweepValuesField />}
        <Select
          label="Judge each run by"
          value={settings.sweepEval}
          options={EVALUATION_OPTIONS}
          onChange={(v) => setSetting('sweepEval', v)}
          disabled={disabled}
          hint={sweepEvalHint(settings, finetuneSteps)}
        />
      </div>
      <p className="hint" data-testid="sweep-plan">
        {runs.length} runs: {runs.map((r) => r.name).join(', ')}.
      </p>
    </div>
  );
}
