// The page's one LiveMetrics: training curves outside React state, summarised into the store
// once per animation frame.
import { LiveMetrics } from '../store/live-metrics.ts';
import { useAppStore } from '../store/store.ts';

export const liveMetrics = new LiveMetrics({
  onSummary: (s) => useAppStore.getState().applyMetricsSummary(s),
  smoothing: () => useAppStore.getState().settings.smoothing,
});
