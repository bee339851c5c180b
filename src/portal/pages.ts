// The pages: one HTML shell each (landmarks, skip link, navigation), filled by
// static/portal.js from the JSON endpoints — the pages hold no data of their own.
import type { ServerResponse } from 'node:http';
import type { PortalAccount } from './directory.js';
import { escapeHtml, sendHtml } from './http.js';
import type { PortalSettings } from './settings.js';

export interface Page {
  readonly name: string;
  readonly pattern: RegExp;
  readonly title: string;
  readonly charts?: boolean;
}

export const PAGES: Page[] = [
  { name: 'catalog', pattern: /^\/$/, title: 'API catalog' },
  { name: 'api', pattern: /^\/apis\/[A-Za-z0-9._-]+$/, title: 'API' },
  { name: 'sign-in', pattern: /^\/sign-in$/, title: 'Sign in' },
  { name: 'sign-up', pattern: /^\/sign-up$/, title: 'Create an account' },
  { name: 'keys', pattern: /^\/keys$/, title: 'API keys' },
  { name: 'usage', pattern: /^\/usage$/, title: 'Usage', charts: true },
  { name: 'admin', pattern: /^\/admin$/, title: 'Operator view', charts: true },
];

export function renderPage(res: ServerResponse, page: Page, settings: PortalSettings, account: PortalAccount | null): void {
  const t = escapeHtml(settings.title);
  const nav = [
    ['/', 'APIs'],
    ...(account ? [['/keys', 'Keys'], ['/usage', 'Usage']] : []),
    ...(account?.role === 'admin' ? [['/admin', 'Operator']] : []),
  ];
  const charts = page.charts ? '<link rel="stylesheet" href="/assets/uPlot.min.css"><script src="/assets/uPlot.iife.min.js" defer></script>' : '';
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} · ${t}</title>
<link rel="stylesheet" href="/assets/portal.css">${charts}
<script src="/assets/portal.js" defer></script>
</head>
<body data-page="${page.name}">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">${t}</a>
<nav aria-label="Main"><ul>${nav.map(([href, label]) => `<li><a href="${href}">${label}</a></li>`).join('')}</ul></nav>
<div class="who" id="who">${account ? `<span>${escapeHtml(account.email)}</span> <button type="button" id="sign-out">Sign out</button>` : '<a href="/sign-in">Sign in</a> <a href="/sign-up">Create account</a>'}</div>
</header>
<main id="main" tabindex="-1">
<h1 id="page-title">${escapeHtml(page.title)}</h1>
<div id="status" role="status" aria-live="polite"></div>
<div id="content"><noscript>This page needs JavaScript; the same data is available from the JSON endpoints under /portal/api (docs/portal.md).</noscript></div>
</main>
<footer class="bottom"><p>Powered by Northgate</p></footer>
</body>
</html>`;
  sendHtml(res, 200, html);
}
