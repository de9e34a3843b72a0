// Reconstruction view: for each evaluation image, original | masked input | reconstruction |
// reconstruction with the visible patches pasted back, and the mask. Its own mask-ratio slider
// and "New mask" button re-run the current weights at once (no training needed); a step slider
// replays the snapshots taken during training. Says how predictions became pixels.
import { useRef } from 'react';
import { maxMaskRatio, patchCount, visiblePatches } from '../store/settings.ts';
import { useAppStore } from '../store/store.ts';
import type { ReconstructionResult } from '../worker/protocol.ts';
import { useBridge } from './bridge-context.ts';
import { Panel, Slider } from './controls.tsx';
import { usePicture } from './picture-canvas.ts';
import { imageCount, maskImage, panelImage, PANEL_KINDS, type PanelKind } from './recon-image.ts';

const PANEL_TITLES: Record<PanelKind | 'mask', string> = {
  original: 'original',
  masked: 'masked input',
  reconstruction: 'reconstruction',
  pasted: 'visible patches pasted',
  mask: 'mask',
};

function PictureCanvas({ image, label, testId }: { image: ImageData; label: string; testId?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  // drawn again from the frame's pixels (kept in the store) after a GPU crash
  usePicture(ref, image);
  return <canvas ref={ref} role="img" aria-label={label} data-testid={testId} className="recon-canvas" />;
}

function ReconGrid({ frame }: { frame: ReconstructionResult }) {
  const n = imageCount(frame);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const name = frame.paths[i]?.split('/').pop() ?? `image ${i + 1}`;
    rows.push(
      <tr key={`${frame.indices[i]}-${i}`}>
        {PANEL_KINDS.map((k) => (
          <td key={k}>
            <PictureCanvas image={panelImage(frame, k, i)} label={`${PANEL_TITLES[k]} of ${name}`} testId={`recon-${k}-${i}`} />
          </td>
        ))}
        <td>
          <PictureCanvas image={maskImage(frame, i)} label={`mask of ${name}: dark patches are hidden from the encoder`} testId={`recon-mask-${i}`} />
        </td>
      </tr>,
    );
  }
  return (
    <div className="recon-scroll">
      <table className="recon-grid" data-testid="recon-grid" data-step={frame.step} data-mask-ratio={frame.maskRatio}>
        <thead>
          <tr>
            {[...PANEL_KINDS, 'mask' as const].map((k) => (
              <th key={k} scope="col">
                {PANEL_TITLES[k]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{rows}</tbody>
      </table>
    </div>
  );
}

export function ReconstructionView() {
  const live = useAppStore((s) => s.live);
  const snapshots = useAppStore((s) => s.snapshots);
  const snapshotIndex = useAppStore((s) => s.snapshotIndex);
  const selectSnapshot = useAppStore((s) => s.selectSnapshot);
  const pending = useAppStore((s) => s.reconPending);
  const error = useAppStore((s) => s.reconError);
  const ratio = useAppStore((s) => s.settings.viewMaskRatio);
  const seed = useAppStore((s) => s.settings.viewMaskSeed);
  const inputSize = useAppStore((s) => s.settings.inputSize);
  const setSetting = useAppStore((s) => s.setSetting);
  const bridge = useBridge();
  const top = maxMaskRatio(inputSize);
  const L = patchCount(inputSize);
  const frame = snapshotIndex !== null && snapshots[snapshotIndex] ? snapshots[snapshotIndex] : live;
  let masked = 0;
  try {
    masked = L - visiblePatches(inputSize, ratio);
  } catch {
    masked = 0;
  }
  return (
    <Panel title="Reconstructions" className="recon">
      <div className="recon-controls">
        <Slider
          label="Reconstruction mask ratio"
          value={ratio}
          min={0}
          max={top}
          step={0.05 > top ? top || 0.01 : 0.05}
          onChange={(v) => {
            selectSnapshot(null);
            setSetting('viewMaskRatio', Math.min(top, Math.round(v * 100) / 100));
          }}
          format={(v) => `${v.toFixed(2)} (${masked} of ${L} masked)`}
          testId="view-mask-ratio"
        />
        <button
          type="button"
          onClick={() => {
            selectSnapshot(null);
            bridge?.newMask();
          }}
          disabled={!bridge}
        >
          New mask
        </button>
        <span className="hint" aria-live="polite" data-testid="mask-seed">
          {pending ? 'reconstructing…' : `mask seed ${seed}`}
        </span>
      </div>
      {snapshots.length > 1 && (
        <div className="recon-controls">
          <Slider
            label="Snapshot"
            value={snapshotIndex ?? snapshots.length - 1}
            min={0}
            max={snapshots.length - 1}
            step={1}
            onChange={(v) => selectSnapshot(v === snapshots.length - 1 ? null : v)}
            format={(v) => `step ${snapshots[v]?.step ?? '?'} (mask ${snapshots[v]?.maskRatio.toFixed(2) ?? '?'})`}
            testId="snapshot-slider"
          />
          <button type="button" onClick={() => selectSnapshot(null)} disabled={snapshotIndex === null}>
            Latest
          </button>
        </div>
      )}
      {error && (
        <p role="alert" className="warning">
          {error}
        </p>
      )}
      {frame ? (
        <>
          <p className="hint" data-testid="recon-caption">
            Weights of step {frame.step}; {frame.patches - frame.visiblePatches} of {frame.patches} patches masked (ratio {frame.maskRatio.toFixed(2)}); loss on masked patches {frame.loss.toFixed(4)}.
          </p>
          <ReconGrid frame={frame} />
          <p className="note" data-testid="denorm-note">
            {frame.denormalisationNote} Visible patches get no loss, so the model's predictions there stay untrained: judge the masked patches (the “pasted” column shows them in place).
          </p>
        </>
      ) : (
        <p className="hint">{bridge ? 'Waiting for the first reconstruction…' : 'Reconstructions appear once the GPU is ready.'}</p>
      )}
    </Panel>
  );
}
