// Shared pieces of the console: the htm binding, small components (field error, notice,
// page header) and formatting. Everything is rendered as text: names, tags and messages
// from the server never become markup.
import { h } from './vendor/preact.js';
import htm from './vendor/htm.js';

export const html = htm.bind(h);

export function Notice({ kind = 'info', children }) {
  return html`<div class=${`notice notice-${kind}`} role=${kind === 'error' ? 'alert' : 'status'}>${children}</div>`;
}

export function PageHeader({ title, children }) {
  return html`<header class="page-header"><h1 tabindex="-1" id="page-title">${title}</h1><div class="page-actions">${children}</div></header>`;
}

export const fmt = {
  rate: (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
  pct: (v) => `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)}\u00a0%`,
  ms: (v) => (v === null || v === undefined ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)}\u00a0s` : `${v.toFixed(v < 10 ? 1 : 0)}\u00a0ms`),
  count: (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}\u00a0M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}\u00a0k` : String(Math.round(v))),
  time: (t) => (t === null || t === undefined ? '–' : new Date(t).toLocaleTimeString()),
};

/** The name an entity is known by (what references name), else its id. */
export function entityKey(kind, e) {
  if (kind === 'consumers') return e.username;
  if (kind === 'targets') return `${e.upstream} ${e.url}`;
  if (kind === 'plugins') return `${e.scope === 'global' ? 'global' : `${e.scope}:${e.route ?? e.service}`}/${e.name}`;
  if (kind === 'credentials') return e.id;
  return e.name ?? e.id;
}

/** The page moves focus to its heading, so screen readers announce where they are. */
export function focusTitle() {
  queueMicrotask(() => document.getElementById('page-title')?.focus({ preventScroll: true }));
}
