// Small labelled form controls bound to one setting each. Every control has an accessible
// name (a <label>), shows the store's validation message for its setting, and commits text
// input on Enter or blur (not per keystroke, so typing "0.0" does not bounce as invalid).
import { useEffect, useId, useState, type ReactNode } from 'react';
import { useAppStore } from '../store/store.ts';
import type { SettingKey, Settings } from '../store/settings.ts';

type KeysOfType<T> = { [K in keyof Settings]: Settings[K] extends T ? K : never }[keyof Settings];

function FieldError({ id, setting }: { id: string; setting: SettingKey }) {
  const error = useAppStore((s) => s.settingErrors[setting]);
  if (!error) return null;
  return (
    <span id={id} className="field-error" role="alert">
      {error}
    </span>
  );
}

export interface NumberFieldProps {
  setting: KeysOfType<number>;
  label: string;
  min?: number;
  max?: number;
  step?: number | 'any';
  hint?: ReactNode;
  disabled?: boolean;
  /** Parse as integer (default) or float. */
  float?: boolean;
}

export function NumberField({ setting, label, min, max, step, hint, disabled, float }: NumberFieldProps) {
  const value = useAppStore((s) => s.settings[setting]);
  const setSetting = useAppStore((s) => s.setSetting);
  const [text, setText] = useState(String(value));
  const id = useId();
  useEffect(() => setText(String(value)), [value]);
  const commit = () => {
    const v = text.trim() === '' ? NaN : Number(text);
    if (setSetting(setting, v) !== null) return;
    setText(String(useAppStore.getState().settings[setting]));
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode={float ? 'decimal' : 'numeric'}
        value={text}
        min={min}
        max={max}
        step={step ?? (float ? 'any' : 1)}
        disabled={disabled}
        aria-describedby={`${id}-err ${id}-hint`}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
        }}
      />
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
      <FieldError id={`${id}-err`} setting={setting} />
    </div>
  );
}

export interface SliderProps {
  label: string;
  value: number;
  min: number;
  max: number;
  step: number;
  onChange(v: number): void;
  /** Shown next to the slider and read out as aria-valuetext. */
  format?: (v: number) => string;
  disabled?: boolean;
  testId?: string;
}

/** A range input with its value; keyboard arrows move it by `step`. */
export function Slider({ label, value, min, max, step, onChange, format = String, disabled, testId }: SliderProps) {
  const id = useId();
  return (
    <div className="field slider">
      <label htmlFor={id}>{label}</label>
      <div className="slider-row">
        <input
          id={id}
          type="range"
          min={min}
          max={max}
          step={step}
          value={value}
          disabled={disabled}
          aria-valuetext={format(value)}
          data-testid={testId}
          onChange={(e) => onChange(Number(e.target.value))}
        />
        <output htmlFor={id}>{format(value)}</output>
      </div>
    </div>
  );
}

export interface SelectProps<T extends string> {
  label: string;
  value: T;
  options: readonly { value: T; label: string; disabled?: boolean; title?: string }[];
  onChange(v: T): void;
  disabled?: boolean;
  hint?: ReactNode;
}

export function Select<T extends string>({ label, value, options, onChange, disabled, hint }: SelectProps<T>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value as T)} aria-describedby={hint ? `${id}-hint` : undefined}>
        {options.map((o) => (
          <option key={o.value} value={o.value} disabled={o.disabled} title={o.title}>
            {o.label}
          </option>
        ))}
      </select>
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}

export function Toggle({ setting, label, hint }: { setting: KeysOfType<boolean>; label: string; hint?: ReactNode }) {
  const value = useAppStore((s) => s.settings[setting]);
  const setSetting = useAppStore((s) => s.setSetting);
  const id = useId();
  return (
    <div className="field toggle">
      <input id={id} type="checkbox" checked={value} onChange={(e) => setSetting(setting, e.target.checked)} aria-describedby={hint ? `${id}-hint` : undefined} />
      <label htmlFor={id}>{label}</label>
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}

/** Four integers (one per stage) edited as "2, 2, 6, 2". */
export function StageListField({ setting, label }: { setting: 'depths' | 'dims'; label: string }) {
  const value = useAppStore((s) => s.settings[setting]);
  const setSetting = useAppStore((s) => s.setSetting);
  const [text, setText] = useState(value.join(', '));
  const id = useId();
  useEffect(() => setText(value.join(', ')), [value]);
  const commit = () => {
    const parts = text.split(/[\s,]+/).filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
    if (setSetting(setting, parts) === null) setText(useAppStore.getState().settings[setting].join(', '));
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        inputMode="numeric"
        value={text}
        aria-describedby={`${id}-err`}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
        }}
      />
      <FieldError id={`${id}-err`} setting={setting} />
    </div>
  );
}

export function Panel({ title, children, id, className }: { title: string; children: ReactNode; id?: string; className?: string }) {
  const headingId = useId();
  return (
    <section className={`panel ${className ?? ''}`} aria-labelledby={headingId} id={id}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

/** Save bytes (or text) as a download. */
export function download(data: BlobPart, fileName: string, mimeType: string): void {
  const url = URL.createObjectURL(new Blob([data], { type: mimeType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
