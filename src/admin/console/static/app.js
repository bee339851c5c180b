// The console's shell: who is signed in, the navigation (hash routes, so the admin API's
// paths stay the API's), the theme, and the page in view.
import { render } from './vendor/preact.js';
import { useEffect, useState } from './vendor/hooks.js';
import { api, get, onSignedOut, setCsrf } from './api.js';
import { html, Notice } from './ui.js';
import { Dashboard } from './dashboard.js';
import { Entities, KIND_ORDER, KIND_LABELS } from './entities.js';
import { Tools } from './tools.js';

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/dashboard');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/dashboard');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const THEMES = ['auto', 'light', 'dark'];

function ThemeSwitch() {
  // A display preference, the one thing the console keeps in the browser.
  const [theme, setTheme] = useState(localStorage.getItem('northgate-theme') ?? 'auto');
  useEffect(() => {
    if (theme === 'auto') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    localStorage.setItem('northgate-theme', theme);
  }, [theme]);
  return html`<label class="theme"><span>Theme</span>
    <select value=${theme} onChange=${(e) => setTheme(e.currentTarget.value)}>${THEMES.map((t) => html`<option value=${t}>${t}</option>`)}</select></label>`;
}

function SignIn({ onSignedIn }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const input = e.currentTarget.elements.token;
    setBusy(true);
    setError(null);
    try {
      const s = await api('POST', '/ui/api/session', { token: input.value });
      input.value = '';
      onSignedIn(s);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="sign-in" id="main">
    <form onSubmit=${submit} class="card" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Northgate console</h1>
      <p class="muted">This gateway's admin API needs its token. It is exchanged for a session cookie; the console does not keep it.</p>
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required autofocus aria-invalid=${error !== null} aria-describedby=${error !== null ? 'sign-in-error' : undefined} />
      ${error !== null && html`<p class="field-error" id="sign-in-error" role="alert">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}

function Shell({ session, onSignOut }) {
  const hash = useHash();
  const [, page, arg] = /^#\/([a-z-]+)\/?([a-z-]*)/.exec(hash) ?? [];
  const [menu, setMenu] = useState(false);
  const link = (href, label, current) => html`<a href=${href} aria-current=${current ? 'page' : undefined} onClick=${() => setMenu(false)}>${label}</a>`;
  let view;
  if (page === 'entities') view = html`<${Entities} kind=${KIND_ORDER.includes(arg) ? arg : 'services'} mode=${session.mode} />`;
  else if (page === 'tools') view = html`<${Tools} />`;
  else view = html`<${Dashboard} />`;
  return html`
    <a class="skip" href="#main" onClick=${(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>Skip to content</a>
    <header class="top">
      <span class="brand">Northgate</span>
      ${session.mode === 'file' && html`<span class="badge" title="mode: file — edit the config file and reload">read-only</span>`}
      <button class="menu-toggle" aria-expanded=${menu} aria-controls="nav" onClick=${() => setMenu(!menu)}>Menu</button>
      <nav id="nav" class=${menu ? 'open' : ''} aria-label="Console">
        ${link('#/dashboard', 'Dashboard', page !== 'entities' && page !== 'tools')}
        ${KIND_ORDER.map((k) => link(`#/entities/${k}`, KIND_LABELS[k], page === 'entities' && (arg || 'services') === k))}
        ${link('#/tools', 'Tools', page === 'tools')}
      </nav>
      <div class="top-end">
        <${ThemeSwitch} />
        ${session.token_required && html`<button onClick=${onSignOut}>Sign out</button>`}
      </div>
    </header>
    <main id="main" tabindex="-1">${view}</main>`;
}

function App() {
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  const accept = (s) => {
    setCsrf(s.csrf_token);
    setSession(s);
  };
  useEffect(() => {
    get('/ui/api/session').then(accept, (err) => setError(err.message));
    return onSignedOut(() => setSession((s) => (s === null ? s : { ...s, signed_in: false })));
  }, []);
  const signOut = async () => {
    await api('DELETE', '/ui/api/session').catch(() => undefined);
    setCsrf(null);
    setSession((s) => ({ ...s, signed_in: false, csrf_token: null }));
  };
  if (error !== null) return html`<main id="main"><${Notice} kind="error">The console could not reach the admin API: ${error}<//></main>`;
  if (session === null) return html`<p class="boot">Loading the console…</p>`;
  if (!session.signed_in) return html`<${SignIn} onSignedIn=${accept} />`;
  return html`<${Shell} session=${session} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app'));
