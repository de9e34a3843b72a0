// The activation grid (the paper's Fig. 3) in the Evaluation panel: the "Activation grid" button
// with its block (stage.block) and image choice, and the 8 × 8 grid of one block's first 64
// channel maps for the current encoder beside the same for a random initialisation. The maps
// live in the store as data (evaluation-slice.ts); each canvas is painted from them with the
// pixels `fcmae analyze --grid` writes (io/activation-grid.ts), and painted again when the
// browser drops and restores a canvas's context.
import { useEffect, useRef } from 'react';
import { activationGridImage } from '../io/activation-grid.ts';
import { activationGridBlocks, fitActivationGridChoice, type EvaluationResult } from '../store/evaluation-slice.ts';
import { useAppStore } from '../store/store.ts';
import type { ActivationGridView } from '../worker/protocol.ts';

/** The grid's pixels for a view's flat (count, height, width) maps. */
export function gridImageData(view: ActivationGridView): ImageData {
  const plane = view.width * view.height;
  const maps = Array.from({ length: view.count }, (_, k) => view.maps.subarray(k * plane, (k + 1) * plane));
  const rgba = activationGridImage({ width: view.width, height: view.height, maps });
  return new ImageData(new Uint8ClampedArray(rgba.data), rgba.width, rgba.height);
}

function GridCanvas({ view, label, testId }: { view: ActivationGridView; label: string; testId: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const paint = () => {
      const image = gridImageData(view);
      c.width = image.width;
      c.height = image.height;
      c.getContext('2d')?.putImageData(image, 0, 0);
    };
    paint();
    // a 2D canvas whose context the browser dropped comes back blank: paint it again from the maps
    c.addEventListener('contextrestored', paint);
    return () => c.removeEventListener('contextrestored', paint);
  }, [view]);
  return <canvas ref={ref} role="img" aria-label={label} data-testid={testId} className="activation-grid-canvas" />;
}

/** The button with its block and image choice. */
export function ActivationGridControls({ disabled, onRun }: { disabled: boolean; onRun: () => void }) {
  const depths = useAppStore((s) => s.settings.depths);
  const stored = useAppStore((s) => s.activationGridChoice);
  const setChoice = useAppStore((s) => s.setActivationGridChoice);
  const choice = fitActivationGridChoice(depths, stored);
  const blocks = activationGridBlocks(depths);
  return (
    <div className="buttons activation-grid-controls">
      <button type="button" disabled={disabled} onClick={onRun}>
        Activation grid
      </button>
      <label>
        block{' '}
        <select
          data-testid="activation-grid-block"
          value={`${choice.stage}.${choice.block}`}
          disabled={disabled}
          onChange={(e) => {
            const [stage, block] = e.target.value.split('.').map(Number) as [number, number];
            setChoice({ ...choice, stage, block });
          }}
        >
          {blocks.map((b) => (
            <option key={`${b.stage}.${b.block}`} value={`${b.stage}.${b.block}`}>
              stage {b.stage} block {b.block}
            </option>
          ))}
        </select>
      </label>
      <label>
        image{' '}
        <input
          type="number"
          data-testid="activation-grid-image"
          min={0}
          step={1}
          value={choice.image}
          disabled={disabled}
          onChange={(e) => {
            const image = Number(e.target.value);
            if (Number.isInteger(image) && image >= 0) setChoice({ ...choice, image });
          }}
        />
      </label>
    </div>
  );
}

/** The latest grid: current encoder and random init side by side. */
export function ActivationGridResultView({ result }: { result: Extract<EvaluationResult, { kind: 'grid' }> }) {
  const g = result.grid;
  const what = `block ${g.stage}.${g.block}, image ${g.image} (${g.className})`;
  return (
    <div className="activation-grids">
      <figure>
        <GridCanvas view={g.current} label={`Activation grid of the current encoder at step ${result.pretrainStep}, ${what}: the first ${g.current.count} of ${g.current.channels} channels`} testId="activation-grid-current" />
        <figcaption>current encoder (step {result.pretrainStep})</figcaption>
      </figure>
      {g.baseline && (
        <figure>
          <GridCanvas view={g.baseline} label={`Activation grid of a random initialisation, ${what}`} testId="activation-grid-random" />
          <figcaption>random init</figcaption>
        </figure>
      )}
    </div>
  );
}
