// Page entry: settings from the URL first (so the worker starts on the shared experiment),
// the URL kept in step afterwards, then the React app.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { useAppStore } from './store/store.ts';
import { App } from './ui/App.tsx';
import { readSettingsFromUrl, syncSettingsToUrl } from './ui/url-sync.ts';

readSettingsFromUrl(useAppStore);
syncSettingsToUrl(useAppStore);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
