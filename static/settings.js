// The settings kept in this browser (localStorage), and the theme they
// choose, applied from <head> before the first paint. Every page loads it;
// the theme switch in the top bar flips between light and dark.
window.TickStockSettings = (() => {
  'use strict';

  const KEY = 'tickstock.settings';
  const DEFAULTS = { theme: 'auto', zone: 'et', sound: false, notify: false, pause: false };
  const listeners = [];

  const read = () => {
    try {
      const stored = JSON.parse(localStorage.getItem(KEY) || '{}');
      return { ...DEFAULTS, ...(stored && typeof stored === 'object' ? stored : {}) };
    } catch (error) {
      return { ...DEFAULTS };
    }
  };
  let settings = read();

  const systemTheme = () => (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark');
  const effectiveTheme = () => (settings.theme === 'light' || settings.theme === 'dark' ? settings.theme : systemTheme());

  function applyTheme() {
    document.documentElement.dataset.theme = effectiveTheme();
  }

  function set(name, value) {
    settings = { ...settings, [name]: value };
    try {
      localStorage.setItem(KEY, JSON.stringify(settings));
    } catch (error) {
      // Storage refused (private mode, quota): the setting lasts this page.
    }
    if (name === 'theme') applyTheme();
    listeners.forEach((listener) => listener(name, value));
  }

  applyTheme();
  matchMedia('(prefers-color-scheme: light)').addEventListener('change', () => {
    if (settings.theme === 'auto') {
      applyTheme();
      listeners.forEach((listener) => listener('theme', settings.theme));
    }
  });
  document.addEventListener('DOMContentLoaded', () => {
    const button = document.getElementById('theme-switch');
    if (!button) return;
    const label = () => {
      button.textContent = effectiveTheme() === 'dark' ? 'Light theme' : 'Dark theme';
    };
    label();
    button.addEventListener('click', () => set('theme', effectiveTheme() === 'dark' ? 'light' : 'dark'));
    listeners.push(label);
  });

  return {
    get: (name) => settings[name],
    set,
    theme: effectiveTheme,
    // listener(name, value) after each change.
    onChange: (listener) => listeners.push(listener),
  };
})();
