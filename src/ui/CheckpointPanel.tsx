// Checkpoints: download the weights in each format, load a file (or drop it anywhere on the
// page), see what was loaded or refused tensor by tensor, and "Continue in PyTorch": the
// official trainer's command line for this run's settings.
import { useRef, useState } from 'react';
import { pytorchCommand } from '../store/pytorch-command.ts';
import { useAppStore } from '../store/store.ts';
import type { CheckpointFormat } from '../worker/protocol.ts';
import { OFFICIAL_PRETRAIN_FILE } from '../io/official-commands.ts';
import { useBridge } from './bridge-context.ts';
import { download, Panel } from './controls.tsx';
import { checkpointChoice } from './drop.ts';
import { userChoices } from './user-choices.ts';

const FORMATS: { format: CheckpointFormat; label: string; what: string }[] = [
  { format: 'native', label: 'Playground (.safetensors)', what: 'weights, optimizer state and settings: resumes exactly' },
  { format: 'official-pretrain', label: 'Official training checkpoint (.pth)', what: "model, AdamW state, epoch, scaler and args as main_pretrain.py saves them: its --resume continues this run" },
  { format: 'official-sparse', label: 'Official FCMAE weights (.pth)', what: 'the model only, in the official sparse layout: main_finetune.py --finetune reads it' },
  { format: 'official-dense', label: 'Released encoder (.pth)', what: 'the layout of the released *_fcmae.pt files (encoder only)' },
  { format: 'timm', label: 'timm encoder (.safetensors)', what: 'encoder only, timm names, for fine-tuning' },
];

function ContinueInPytorch() {
  const settings = useAppStore((s) => s.settings);
  const images = useAppStore((s) => s.dataset?.images ?? 0);
  const step = useAppStore((s) => s.run.step);
  const [copied, setCopied] = useState(false);
  const [gpus, setGpus] = useState(1);
  const cmd = pytorchCommand(settings, { datasetSize: Math.max(images, 1), checkpointFile: OFFICIAL_PRETRAIN_FILE, stepsDone: step, gpus });
  return (
    <details className="pytorch">
      <summary>Continue in PyTorch</summary>
      <p className="hint">
        Download the “Official training checkpoint (.pth)” ({OFFICIAL_PRETRAIN_FILE}) and run in a clone of facebookresearch/ConvNeXt-V2 on
        <label>
          {' '}
          <input type="number" min={1} max={1024} value={gpus} aria-label="GPUs" data-testid="pytorch-gpus" onChange={(e) => setGpus(Math.max(1, Math.min(1024, Math.floor(Number(e.target.value)) || 1)))} /> GPU(s):
        </label>
      </p>
      <ul className="notes" data-testid="pytorch-arithmetic">
        {cmd.arithmetic.map((a) => (
          <li key={a}>{a}</li>
        ))}
      </ul>
      <pre data-testid="pytorch-command">
        <code>{cmd.command}</code>
      </pre>
      <button
        type="button"
        onClick={() => {
          void navigator.clipboard?.writeText(cmd.command).then(() => setCopied(true));
        }}
      >
        {copied ? 'Copied' : 'Copy command'}
      </button>
      <p className="hint">Then fine-tune it (TRAINING.md's Base recipe; set the class count):</p>
      <pre data-testid="pytorch-finetune-command">
        <code>{cmd.finetune}</code>
      </pre>
      <ul className="notes">
        {cmd.notes.map((n) => (
          <li key={n}>{n}</li>
        ))}
      </ul>
    </details>
  );
}

export function CheckpointPanel() {
  const bridge = useBridge();
  const report = useAppStore((s) => s.checkpointReport);
  const running = useAppStore((s) => s.run.status === 'running' || s.run.status === 'preparing');
  const sweeping = useAppStore((s) => s.sweep.status === 'running');
  const frozen = useAppStore((s) => s.settings.freezeEncoder);
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState<CheckpointFormat | null>(null);
  return (
    <Panel title="Checkpoints" className="checkpoints">
      <div className="buttons">
        {FORMATS.map((f) => (
          <button
            key={f.format}
            type="button"
            title={f.what}
            disabled={!bridge || busy !== null || sweeping}
            onClick={async () => {
              if (!bridge) return;
              setBusy(f.format);
              const saved = await bridge.saveCheckpoint(f.format);
              setBusy(null);
              if (saved) download(saved.bytes as Uint8Array<ArrayBuffer>, saved.fileName, saved.mimeType);
            }}
          >
            Download {f.label}
          </button>
        ))}
      </div>
      <div className="buttons">
        <button type="button" onClick={() => input.current?.click()} disabled={running || sweeping}>
          Load checkpoint…
        </button>
        <span className="hint">or drop a .safetensors / .pth file anywhere on the page</span>
        <input
          ref={input}
          type="file"
          hidden
          accept=".safetensors,.pth,.pt,.bin,.ckpt"
          aria-label="Checkpoint file"
          data-testid="checkpoint-input"
          onChange={(e) => {
            const f = e.target.files?.[0];
            // before the engine is ready it waits in the queue (user-choices.ts)
            if (f) userChoices.submit(checkpointChoice(f));
            e.target.value = '';
          }}
        />
      </div>
      {report && (
        <div className={report.ok ? 'report' : 'report warning'} role={report.ok ? 'status' : 'alert'} data-testid="checkpoint-report">
          <strong>{report.title}</strong>
          {report.encoderOnly && (
            <p>
              <button type="button" data-testid="train-decoder" disabled={!bridge || running || sweeping} onClick={() => void bridge?.trainDecoder()}>
                Train a decoder for this encoder
              </button>{' '}
              <span className="hint">{frozen ? 'the encoder is frozen (Training panel): only proj, mask token, decoder and pred train' : 'freezes the encoder and trains proj, mask token, decoder and pred'}</span>
            </p>
          )}
          {report.lines.length > 0 && (
            <ul>
              {report.lines.slice(0, 40).map((l, i) => (
                <li key={i}>{l}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ContinueInPytorch />
    </Panel>
  );
}
