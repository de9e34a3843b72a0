// Model panel: size presets (marked when they will not fit this adapter's buffer limits),
// custom depths/dims, input size, decoder, GRN on/off and its statistics, GELU form, sparse vs
// dense encoder, and the live parameter count, MACs per image, FLOPs per step and memory
// estimate. MACs count convolutions and linears only (the papers' convention), so GRN on/off
// shows in the parameter count and the every-op FLOPs per step, not in the MACs.
import { useMemo } from 'react';
import { customConfig, SIZE_NAMES, MODEL_SIZES, type ModelConfig } from '../model/config.ts';
import { fitsAdapter, formatBytes, formatCount, macsPerImage, memoryEstimate, paramCounts, trainingStepFlops } from '../train/estimates.ts';
import type { Settings, SizeChoice } from '../store/settings.ts';
import { LIMITS, visiblePatches, patchCount } from '../store/settings.ts';
import { useAppStore } from '../store/store.ts';
import { NumberField, Panel, Select, StageListField } from './controls.tsx';

type Limits = { maxBufferSize: number; maxStorageBufferBindingSize: number } | null;

function configOf(s: Pick<Settings, 'depths' | 'dims' | 'decoderDim' | 'decoderDepth' | 'grn'>): ModelConfig | null {
  try {
    return customConfig([...s.depths], [...s.dims], s.decoderDim, s.decoderDepth, s.grn);
  } catch {
    return null;
  }
}

/** One line per size for the select: parameters, and whether it fits. */
function sizeOptions(s: Settings, limits: Limits) {
  return [
    ...SIZE_NAMES.map((name) => {
      const c = customConfig([...MODEL_SIZES[name].depths], [...MODEL_SIZES[name].dims], s.decoderDim, s.decoderDepth, s.grn);
      const p = paramCounts(c);
      let note = '';
      let title: string | undefined;
      if (limits) {
        const m = memoryEstimate(c, { inputSize: s.inputSize, visible: visiblePatches(s.inputSize, s.maskRatio), denseEncoder: s.denseEncoder, freezeEncoder: s.freezeEncoder, batchSize: s.batchSize });
        const fit = fitsAdapter(m, limits);
        if (!fit.fits) {
          note = ` — won't fit: ${formatBytes(m.largestBufferBytes)} buffer`;
          title = fit.reason;
        }
      }
      return { value: name as SizeChoice, label: `${name} · ${formatCount(p.encoder)} encoder params${note}`, title };
    }),
    { value: 'custom' as SizeChoice, label: 'custom depths / widths' },
  ];
}

export function ModelPanel() {
  const settings = useAppStore((s) => s.settings);
  const setSetting = useAppStore((s) => s.setSetting);
  const gpu = useAppStore((s) => s.gpu);
  const plan = useAppStore((s) => s.plan);
  const limits: Limits = gpu?.ok ? { maxBufferSize: gpu.adapter.limits.maxBufferSize, maxStorageBufferBindingSize: gpu.adapter.limits.maxStorageBufferBindingSize } : null;
  const options = useMemo(() => sizeOptions(settings, limits), [settings, limits?.maxBufferSize, limits?.maxStorageBufferBindingSize]);
  const config = configOf(settings);
  const figures = useMemo(() => {
    if (!config) return null;
    try {
      const shape = { inputSize: settings.inputSize, visible: visiblePatches(settings.inputSize, settings.maskRatio), denseEncoder: settings.denseEncoder };
      const params = paramCounts(config);
      const macs = macsPerImage(config, shape);
      const train = { ...shape, batchSize: settings.batchSize, freezeEncoder: settings.freezeEncoder };
      const mem = memoryEstimate(config, train);
      return { params, macs, stepFlops: trainingStepFlops(config, train, { grnMode: settings.grnMode, normPix: settings.normPix }), mem, fit: limits ? fitsAdapter(mem, limits) : null };
    } catch {
      return null;
    }
  }, [config?.depths.join(), config?.dims.join(), config?.decoderDim, config?.decoderDepth, config?.grn, settings.inputSize, settings.maskRatio, settings.denseEncoder, settings.freezeEncoder, settings.batchSize, limits?.maxBufferSize]);
  const L = patchCount(settings.inputSize);
  let V: number | null = null;
  try {
    V = visiblePatches(settings.inputSize, settings.maskRatio);
  } catch {
    V = null;
  }
  return (
    <Panel title="Model">
      <div className="fields">
        <Select label="Size" value={settings.size} options={options} onChange={(v) => setSetting('size', v)} />
        <StageListField setting="depths" label="Blocks per stage" />
        <StageListField setting="dims" label="Channels per stage" />
        <NumberField setting="inputSize" label="Input size (px)" min={LIMITS.inputSize.min} max={LIMITS.inputSize.max} step={32} hint={`${Math.sqrt(L)}×${Math.sqrt(L)} = ${L} patches of 32 px`} />
        <NumberField setting="decoderDim" label="Decoder width" min={1} max={4096} />
        <NumberField setting="decoderDepth" label="Decoder blocks" min={0} max={16} />
        <Select
          label="GRN layers"
          value={settings.grn ? 'on' : 'off'}
          options={[
            { value: 'on', label: 'on: ConvNeXt V2 blocks' },
            { value: 'off', label: 'off: V1-style blocks, no GRN (ablation)' },
          ]}
          onChange={(v) => setSetting('grn', v === 'on')}
          hint={settings.grn ? undefined : 'Without GRN the MLP channels tend to collapse (paper: V2-B FCMAE 83.7 vs 84.6 top-1 with GRN). No layer scale is added either.'}
        />
        <Select
          label="GRN statistics"
          value={settings.grnMode}
          options={[
            { value: 'per-sample', label: 'per sample (visible sites of each image)' },
            { value: 'batch', label: 'whole batch (official sparse code)' },
          ]}
          onChange={(v) => setSetting('grnMode', v)}
          disabled={!settings.grn}
          hint={settings.grn ? undefined : 'Unused: the blocks have no GRN layers.'}
        />
        <Select
          label="GELU"
          value={settings.gelu}
          options={[
            { value: 'erf', label: 'exact (erf), as PyTorch' },
            { value: 'tanh', label: 'tanh approximation' },
          ]}
          onChange={(v) => setSetting('gelu', v)}
        />
        <Select
          label="Encoder"
          value={settings.denseEncoder ? 'dense' : 'sparse'}
          options={[
            { value: 'sparse', label: 'sparse: visible patches only (FCMAE)' },
            { value: 'dense', label: 'dense convs on the masked image (ablation)' },
          ]}
          onChange={(v) => setSetting('denseEncoder', v === 'dense')}
          hint={settings.denseEncoder ? 'Dense convolutions let information leak into masked regions (paper: 79.3 vs 83.7 top-1).' : undefined}
        />
      </div>
      {figures ? (
        <dl className="figures" data-testid="model-figures">
          <dt>Parameters</dt>
          <dd>
            <span data-testid="param-count">{formatCount(figures.params.total)}</span> ({formatCount(figures.params.encoder)} encoder + {formatCount(figures.params.decoder)} decoder)
          </dd>
          <dt>Per image, forward</dt>
          <dd>
            <span data-testid="flops">{formatCount(figures.macs.forward)}</span> MACs ({formatCount(figures.macs.encoder)} encoder on {figures.macs.encoderPatches} of {figures.macs.patches} patches)
          </dd>
          <dt>Per step, train</dt>
          <dd>
            ≈ {formatCount(figures.macs.trainingStep * settings.batchSize)} MACs at batch {settings.batchSize};{' '}
            <span data-testid="step-flops">{formatCount(figures.stepFlops)}</span> FLOPs counting every op (norms, GELU{settings.grn ? ', GRN' : ''}, AdamW)
          </dd>
          <dt>GPU memory</dt>
          <dd>
            ≈ {formatBytes(figures.mem.totalBytes)}
            {plan?.bytesAllocated ? ` (built plan: ${formatBytes(plan.bytesAllocated)})` : ''}; largest buffer {formatBytes(figures.mem.largestBufferBytes)}
            {limits ? ` of ${formatBytes(Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize))} allowed` : ''}
          </dd>
          {V !== null && V < L && (
            <>
              <dt>Masking</dt>
              <dd>
                {L - V} of {L} patches masked ({(((L - V) / L) * 100).toFixed(1)}%)
              </dd>
            </>
          )}
        </dl>
      ) : (
        <p className="hint">Fix the settings above to see the model's figures.</p>
      )}
      {figures?.fit && !figures.fit.fits && (
        <p className="warning" role="alert" data-testid="too-large">
          Too large for this GPU: {figures.fit.reason}.
        </p>
      )}
    </Panel>
  );
}
