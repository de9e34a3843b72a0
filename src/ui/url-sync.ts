// The page URL carries every setting (TensorFlow Playground style): read once at start-up,
// rewritten with history.replaceState (no history entry per slider tick) whenever settings
// change, a moment after the last change.
import { settingsFromQuery, settingsToQuery } from '../store/url-state.ts';
import type { AppStore } from '../store/store.ts';

const WRITE_DELAY_MS = 250;

/** Apply the URL's settings to the store (problems are kept for the banner). */
export function readSettingsFromUrl(store: AppStore, search = window.location.search): void {
  const { settings, problems } = settingsFromQuery(search);
  store.getState().replaceSettings(settings, problems);
  store.getState().resetRun(settings.totalSteps);
}

/** Keep the URL in step with the settings; returns the unsubscribe. */
export function syncSettingsToUrl(store: AppStore): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = store.getState().settings;
  const write = () => {
    timer = null;
    const url = `${window.location.pathname}?${settingsToQuery(store.getState().settings)}${window.location.hash}`;
    window.history.replaceState(window.history.state, '', url);
  };
  write();
  const unsubscribe = store.subscribe((s) => {
    if (s.settings === last) return;
    last = s.settings;
    if (timer) clearTimeout(timer);
    timer = setTimeout(write, WRITE_DELAY_MS);
  });
  return () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
}
