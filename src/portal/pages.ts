// The pages: server-rendered HTML (landmarks, skip link, navigation, the brand). What the
// portal knows without a database read — the catalog, an API's summary, the sign-in forms —
// is in the HTML, visible at once and without JavaScript; static/portal.js adds search as
// you type, the API reference, and the account pages' data from the JSON endpoints.
import type { ServerResponse } from 'node:http';
import type { PortalAccount } from './directory.js';
import { escapeHtml as e, sendHtml } from './http.js';
import { catalogTags, searchApis, type PortalApi, type PortalSettings } from './settings.js';

export interface Page {
  readonly name: string;
  readonly pattern: RegExp;
  readonly title: string;
  readonly charts?: boolean;
  /** Who may see the page: anyone, a signed-in account (else a redirect to sign-in), an operator. */
  readonly auth?: 'account' | 'admin';
}

export const PAGES: Page[] = [
  { name: 'catalog', pattern: /^\/$/, title: 'API catalog' },
  { name: 'api', pattern: /^\/apis\/[A-Za-z0-9._-]+$/, title: 'API' },
  { name: 'sign-in', pattern: /^\/sign-in$/, title: 'Sign in' },
  { name: 'sign-up', pattern: /^\/sign-up$/, title: 'Create an account' },
  { name: 'keys', pattern: /^\/keys$/, title: 'API keys', auth: 'account' },
  { name: 'usage', pattern: /^\/usage$/, title: 'Usage', charts: true, auth: 'account' },
  { name: 'admin', pattern: /^\/admin$/, title: 'Operator view', charts: true, auth: 'admin' },
];

/** A page that only says something (not found, not allowed): no script fills it. */
const MESSAGE: Page = { name: 'message', pattern: /$^/, title: '' };

export interface PageContext {
  readonly res: ServerResponse;
  readonly url: URL;
  readonly settings: PortalSettings;
  readonly account: PortalAccount | null;
  /** The gateway's public base URL. */
  readonly baseUrl: string;
}

export function renderPage(c: PageContext, page: Page): void {
  if (page.auth !== undefined && c.account === null) {
    c.res.writeHead(302, { location: '/sign-in', 'cache-control': 'no-store' });
    c.res.end();
    return;
  }
  if (page.auth === 'admin' && c.account!.role !== 'admin') return shell(c, MESSAGE, 403, 'Operators only', '<div class="empty"><p><strong>This page is for the portal\'s operators.</strong></p><p><a href="/">Back to the APIs</a></p></div>');
  switch (page.name) {
    case 'catalog':
      return shell(c, page, 200, page.title, catalogBody(c));
    case 'api': {
      const name = decodeURIComponent(c.url.pathname.slice('/apis/'.length));
      const api = c.settings.apis.get(name);
      if (api === undefined) return shell(c, MESSAGE, 404, 'No such API', `<div class="empty"><p><strong>No published API is named “${e(name)}”.</strong></p><p><a href="/">See all APIs</a></p></div>`);
      return shell(c, page, 200, api.title, apiBody(c, api), api.service);
    }
    case 'sign-in':
    case 'sign-up':
      return shell(c, page, 200, page.title, accountBody(c.settings, page.name));
    case 'keys':
      return shell(c, page, 200, page.title, loading('Loading your keys…'));
    case 'usage':
      return shell(c, page, 200, page.title, loading('Loading your usage…'));
    default:
      return shell(c, page, 200, page.title, loading('Loading the operator view…'));
  }
}

function loading(text: string): string {
  return `<p class="loading" aria-busy="true">${e(text)}</p>`;
}

function shell(c: PageContext, page: Page, status: number, heading: string, body: string, api?: string): void {
  const s = c.settings;
  const account = c.account;
  const t = e(s.title);
  const nav = [
    ['/', 'APIs'],
    ...(account ? [['/keys', 'Keys'], ['/usage', 'Usage']] : []),
    ...(account?.role === 'admin' ? [['/admin', 'Operator']] : []),
  ];
  const here = c.url.pathname === '/' ? '/' : '/' + c.url.pathname.split('/')[1];
  const links = nav.map(([href, label]) => `<li><a href="${href}"${href === here || (href === '/' && here === '/apis') ? ' aria-current="page"' : ''}>${label}</a></li>`).join('');
  const who = account
    ? `<span class="email">${e(account.email)}</span> <button type="button" id="sign-out" class="secondary">Sign out</button>`
    : `<a href="/sign-in">Sign in</a>${s.signUp ? ' <a class="button" href="/sign-up">Create account</a>' : ''}`;
  const logo = s.brand.logoUrl === null ? '' : `<img class="logo" src="${e(s.brand.logoUrl)}" alt="" height="32">`;
  const charts = page.charts ? '<link rel="stylesheet" href="/assets/uPlot.min.css"><script src="/assets/uPlot.iife.min.js" defer></script>' : '';
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${e(heading)} · ${t}</title>
<link rel="stylesheet" href="/assets/portal.css"><link rel="stylesheet" href="/assets/brand.css">${charts}
<script src="/assets/portal.js" defer></script>
</head>
<body data-page="${page.name}"${api === undefined ? '' : ` data-api="${e(api)}"`}${account ? ' data-signed-in="true"' : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">${logo}<span id="brand-title">${t}</span></a>
<nav aria-label="Main"><ul>${links}</ul></nav>
<div class="who" id="who">${who}</div>
</header>
<main id="main" tabindex="-1">
<h1 id="page-title">${e(heading)}</h1>
<div id="status" role="status" aria-live="polite"></div>
<div id="content">${body}</div>
</main>
<footer class="bottom"><p>${t} · Powered by Northgate</p></footer>
</body>
</html>`;
  sendHtml(c.res, status, html, s.brand.logoOrigin);
}

/** One catalog card; static/portal.js draws the same markup when the search changes. */
function card(a: PortalApi): string {
  return `<li class="card"><article>
<h2><a href="/apis/${encodeURIComponent(a.service)}">${e(a.title)}</a></h2>
${a.description ? `<p>${e(a.description)}</p>` : ''}
${a.tags.length || a.versions.length ? `<p class="meta">${a.versions.length ? `<span class="version">v${e(a.versions.join(', '))}</span>` : ''}${a.tags.map((t) => `<span class="tag">${e(t)}</span>`).join('')}</p>` : ''}
</article></li>`;
}

function catalogBody(c: PageContext): string {
  const apis = c.settings.apis;
  if (apis.size === 0) return '<div class="empty"><p><strong>No APIs are published yet.</strong></p><p class="muted">An operator publishes a service with <code>portal: { published: true }</code> in the gateway\'s config.</p></div>';
  const q = (c.url.searchParams.get('q') ?? '').slice(0, 200);
  const tag = c.url.searchParams.get('tag') ?? '';
  const found = searchApis(apis, q, tag);
  const options = ['<option value="">All tags</option>', ...catalogTags(apis).map((t) => `<option value="${e(t)}"${t === tag ? ' selected' : ''}>${e(t)}</option>`)].join('');
  return `<form class="filters" role="search" action="/" method="get">
<div class="field grow"><label for="q">Search APIs</label><input id="q" type="search" name="q" autocomplete="off" value="${e(q)}"></div>
<div class="field"><label for="tag">Tag</label><select id="tag" name="tag">${options}</select></div>
<button type="submit">Search</button>
</form>
<p id="api-count" class="muted" aria-live="polite">${found.length === 0 ? '' : `${found.length} API${found.length === 1 ? '' : 's'}`}</p>
<ul class="cards" id="api-list" aria-label="APIs">${found.map(card).join('')}</ul>
<div id="api-empty" class="empty"${found.length === 0 ? '' : ' hidden'}><p><strong>No API matches your search.</strong></p><p><a href="/">Show all APIs</a></p></div>`;
}

function apiBody(c: PageContext, a: PortalApi): string {
  const facts = [
    a.versions.length ? `<div><dt>Version</dt><dd id="api-version">${e(a.versions.join(', '))}</dd></div>` : '',
    `<div><dt>Base URL</dt><dd><code id="base-url">${e(c.baseUrl + a.pathPrefix)}</code></dd></div>`,
    a.tags.length ? `<div><dt>Tags</dt><dd>${a.tags.map((t) => `<span class="tag">${e(t)}</span>`).join('')}</dd></div>` : '',
  ].join('');
  const reference = a.openapi === null
    ? '<div class="empty"><p><strong>No API reference is published for this API.</strong></p><p class="muted">Call it at the base URL above; the team that runs it can publish an OpenAPI document.</p></div>'
    : loading('Loading the API reference…');
  const tryPanel = c.account === null
    ? `<p>Sign in to call this API from here with one of your keys.</p><p class="actions"><a class="button" href="/sign-in">Sign in</a>${c.settings.signUp ? ' <a href="/sign-up">Create an account</a>' : ''}</p>`
    : `<p class="muted">Calls the API through the gateway with one of your keys.</p>
<form id="try-form" class="stack">
<div class="field"><label for="try-key-choice">Your keys</label><select id="try-key-choice"><option value="">Loading your keys…</option></select></div>
<div class="field"><label for="try-key">API key</label><input id="try-key" type="password" autocomplete="off" spellcheck="false"></div>
<div class="row">
<div class="field"><label for="try-method">Method</label><select id="try-method">${['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => `<option>${m}</option>`).join('')}</select></div>
<div class="field grow"><label for="try-path">Path</label><input id="try-path" type="text" value="/" spellcheck="false"></div>
</div>
<div class="field"><label for="try-body">Body (JSON)</label><textarea id="try-body" rows="4" spellcheck="false"></textarea></div>
<button type="submit">Send</button>
</form>
<div id="try-result" aria-live="polite"></div>`;
  return `${a.description ? `<p class="lede">${e(a.description)}</p>` : ''}
<dl class="facts">${facts}</dl>
<div class="layout">
<section class="operations" aria-labelledby="ops-h"><h2 id="ops-h">Operations</h2><div id="operations">${reference}</div></section>
<aside class="try-panel" aria-labelledby="try-h"><h2 id="try-h">Try it</h2>${tryPanel}</aside>
</div>`;
}

function accountBody(s: PortalSettings, kind: 'sign-in' | 'sign-up'): string {
  if (kind === 'sign-up' && !s.signUp) return '<div class="empty"><p><strong>Sign-up is closed.</strong></p><p>Ask an operator for an account, or <a href="/sign-in">sign in</a>.</p></div>';
  const up = kind === 'sign-up';
  const oidc = s.oidc === null ? '' : `<p class="or">or</p><p><a class="button secondary" href="/portal/api/oidc/start">${e(s.oidc.label)}</a></p>`;
  const other = up ? '<p>Already have an account? <a href="/sign-in">Sign in</a></p>' : s.signUp ? '<p>New here? <a href="/sign-up">Create an account</a></p>' : '';
  return `<div class="narrow">
<form id="${kind}-form" class="stack">
<div class="field"><label for="email">Email</label><input id="email" type="email" name="email" autocomplete="email" required></div>
<div class="field"><label for="password">Password</label><input id="password" type="password" name="password" autocomplete="${up ? 'new-password' : 'current-password'}"${up ? ' minlength="10" aria-describedby="password-hint"' : ''} required>${up ? '<p id="password-hint" class="hint">At least 10 characters.</p>' : ''}</div>
<button type="submit">${up ? 'Create account' : 'Sign in'}</button>
</form>
${oidc}
${other}
</div>`;
}
