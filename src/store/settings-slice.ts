// Settings slice: the experiment's knobs (mirrored to the URL by url-sync.ts), per-field
// errors for the inputs that show them, and the URL problems found at load.
import type { StateCreator } from 'zustand';
import { applySetting, defaultSettings, SettingError, type SettingKey, type Settings } from './settings.ts';

export interface SettingsSlice {
  settings: Settings;
  /** Last rejected input per setting (cleared when a valid value arrives). */
  settingErrors: Partial<Record<SettingKey, string>>;
  /** Parameters of the page URL that were ignored, one line each. */
  urlProblems: string[];
  /** Set one setting; returns the error message (also kept in settingErrors) or null. */
  setSetting<K extends SettingKey>(key: K, value: Settings[K]): string | null;
  replaceSettings(settings: Settings, urlProblems?: string[]): void;
  dismissUrlProblems(): void;
}

export const createSettingsSlice: StateCreator<SettingsSlice, [], [], SettingsSlice> = (set, get) => ({
  settings: defaultSettings(),
  settingErrors: {},
  urlProblems: [],
  setSetting(key, value) {
    try {
      const settings = applySetting(get().settings, key, value);
      const settingErrors = { ...get().settingErrors };
      delete settingErrors[key];
      set({ settings, settingErrors });
      return null;
    } catch (e) {
      if (!(e instanceof SettingError)) throw e;
      set({ settingErrors: { ...get().settingErrors, [key]: e.message } });
      return e.message;
    }
  },
  replaceSettings(settings, urlProblems) {
    set({ settings, settingErrors: {}, ...(urlProblems ? { urlProblems } : {}) });
  },
  dismissUrlProblems() {
    set({ urlProblems: [] });
  },
});
