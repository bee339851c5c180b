// Northgate developer portal front end: renders each page from the JSON endpoints under
// /portal/api (docs/portal.md). No framework, no build step, no third-party requests.
'use strict';
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const content = () => $('#content');
  let csrf = '';

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function status(text, isError) {
    const s = $('#status');
    s.textContent = text || '';
    s.className = isError ? 'error' : '';
  }

  async function api(method, path, body) {
    const opts = { method, headers: { accept: 'application/json' }, credentials: 'same-origin' };
    if (method !== 'GET') {
      opts.headers['x-csrf-token'] = csrf;
      opts.headers['content-type'] = 'application/json';
      opts.body = JSON.stringify(body || {});
    }
    const res = await fetch(path, opts);
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.detail || res.statusText);
      err.status = res.status;
      throw err;
    }
    if (data.csrf_token) csrf = data.csrf_token;
    return data;
  }

  function table(caption, headers, rows) {
    return el('table', {}, el('caption', { text: caption }), el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', text: h })))), el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
  }

  // ---- catalog ----
  async function catalog() {
    const form = el('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); load(); } },
      el('label', { for: 'q' }, 'Search APIs'), el('input', { id: 'q', type: 'search', name: 'q', autocomplete: 'off' }),
      el('label', { for: 'tag' }, 'Tag'), el('select', { id: 'tag', name: 'tag' }, el('option', { value: '' }, 'All tags')),
      el('button', { type: 'submit' }, 'Search'));
    const list = el('ul', { class: 'cards', id: 'api-list', 'aria-label': 'APIs' });
    content().replaceChildren(form, list);
    let tagsLoaded = false;
    async function load() {
      const params = new URLSearchParams();
      if ($('#q').value) params.set('q', $('#q').value);
      if ($('#tag').value) params.set('tag', $('#tag').value);
      const data = await api('GET', '/portal/api/apis?' + params);
      if (!tagsLoaded) {
        for (const t of data.tags) $('#tag').append(el('option', { value: t }, t));
        tagsLoaded = true;
      }
      list.replaceChildren(...data.apis.map((a) => el('li', { class: 'card' }, el('article', {},
        el('h2', {}, el('a', { href: '/apis/' + encodeURIComponent(a.service) }, a.title)),
        el('p', {}, a.description),
        el('p', { class: 'tags' }, a.tags.map((t) => el('span', { class: 'tag' }, t))),
        a.versions.length ? el('p', { class: 'muted' }, 'Versions: ' + a.versions.join(', ')) : null))));
      status(data.apis.length === 0 ? 'No API matches.' : `${data.apis.length} API${data.apis.length === 1 ? '' : 's'}`);
    }
    $('#q').addEventListener('input', () => load());
    $('#tag').addEventListener('change', () => load());
    await load();
  }

  // ---- API page ----
  function resolveRef(doc, node) {
    let n = node;
    for (let i = 0; i < 16 && n && typeof n.$ref === 'string'; i++) {
      if (!n.$ref.startsWith('#/')) return { description: 'external reference ' + n.$ref };
      n = n.$ref.slice(2).split('/').reduce((o, k) => (o ? o[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
    }
    return n || {};
  }

  function schemaView(doc, schema, depth) {
    const s = resolveRef(doc, schema);
    const type = Array.isArray(s.type) ? s.type.join(' | ') : s.type || (s.properties ? 'object' : s.items ? 'array' : s.oneOf ? 'one of' : s.anyOf ? 'any of' : s.allOf ? 'all of' : 'any');
    const parts = [el('code', { class: 'type' }, type + (s.format ? ` (${s.format})` : ''))];
    if (s.description) parts.push(' ', el('span', { class: 'muted' }, s.description));
    if (s.enum) parts.push(' ', el('span', {}, 'one of: ', s.enum.map((v) => JSON.stringify(v)).join(', ')));
    if (s.example !== undefined) parts.push(' ', el('span', { class: 'muted' }, 'example: '), el('code', {}, JSON.stringify(s.example)));
    if (depth > 6) return el('div', {}, parts);
    const children = [];
    if (s.properties) {
      const required = new Set(s.required || []);
      children.push(el('ul', { class: 'props' }, Object.entries(s.properties).map(([name, p]) => el('li', {}, el('code', { class: 'prop' }, name), required.has(name) ? el('span', { class: 'req' }, ' required') : null, ' ', schemaView(doc, p, depth + 1)))));
    }
    if (s.items) children.push(el('div', { class: 'items' }, 'items: ', schemaView(doc, s.items, depth + 1)));
    for (const k of ['oneOf', 'anyOf', 'allOf']) if (s[k]) children.push(el('ul', { class: 'props' }, s[k].map((x) => el('li', {}, schemaView(doc, x, depth + 1)))));
    return el('div', { class: 'schema' }, parts, children);
  }

  function exampleOf(media) {
    if (!media) return undefined;
    if (media.example !== undefined) return media.example;
    if (media.examples) {
      const first = Object.values(media.examples)[0];
      if (first && first.value !== undefined) return first.value;
    }
    return undefined;
  }

  function operationView(doc, path, method, op, pathParams, tryIt) {
    const id = 'op-' + method + '-' + path.replace(/[^A-Za-z0-9]+/g, '-');
    const params = [...(pathParams || []), ...(op.parameters || [])].map((p) => resolveRef(doc, p));
    const body = op.requestBody ? resolveRef(doc, op.requestBody) : null;
    const section = el('section', { class: 'operation', id, 'aria-labelledby': id + '-h' },
      el('h3', { id: id + '-h' }, el('span', { class: 'method method-' + method }, method.toUpperCase()), ' ', el('code', {}, path), op.summary ? ' — ' + op.summary : ''),
      op.description ? el('p', {}, op.description) : null,
      params.length ? table('Parameters', ['Name', 'In', 'Required', 'Schema', 'Description'], params.map((p) => [el('code', {}, p.name), p.in, p.required ? 'yes' : 'no', p.schema ? schemaView(doc, p.schema, 1) : '', p.description || ''])) : null,
      body ? el('div', { class: 'body' }, el('h4', {}, 'Request body' + (body.required ? ' (required)' : '')), Object.entries(body.content || {}).map(([type, media]) => el('div', {}, el('p', {}, el('code', {}, type)), media.schema ? schemaView(doc, media.schema, 1) : null, exampleOf(media) !== undefined ? el('pre', {}, JSON.stringify(exampleOf(media), null, 2)) : null))) : null,
      el('h4', {}, 'Responses'),
      el('dl', { class: 'responses' }, Object.entries(op.responses || {}).flatMap(([code, r]) => {
        const resp = resolveRef(doc, r);
        return [el('dt', {}, el('code', {}, code)), el('dd', {}, resp.description || '', Object.entries(resp.content || {}).map(([type, media]) => el('div', {}, el('p', {}, el('code', {}, type)), media.schema ? schemaView(doc, media.schema, 1) : null, exampleOf(media) !== undefined ? el('pre', {}, JSON.stringify(exampleOf(media), null, 2)) : null)))];
      })),
      el('button', { type: 'button', class: 'try', onclick: () => tryIt(method, path, body ? exampleOf(Object.values(body.content || {})[0]) : undefined) }, 'Try ' + method.toUpperCase() + ' ' + path));
    return section;
  }

  async function apiPage() {
    const name = decodeURIComponent(location.pathname.split('/').pop());
    const data = await api('GET', '/portal/api/apis/' + encodeURIComponent(name));
    document.title = data.title + ' · ' + document.title.split(' · ').pop();
    $('#page-title').textContent = data.title;
    const doc = data.openapi;
    const tryPanel = el('section', { class: 'try-panel', 'aria-labelledby': 'try-h' },
      el('h2', { id: 'try-h' }, 'Try it'),
      el('p', { class: 'muted' }, 'Calls the API through the gateway with your own key (create one under Keys).'),
      el('form', { id: 'try-form', onsubmit: (e) => { e.preventDefault(); sendTry(); } },
        el('label', { for: 'try-key' }, 'API key'), el('input', { id: 'try-key', type: 'password', autocomplete: 'off' }),
        el('label', { for: 'try-method' }, 'Method'), el('select', { id: 'try-method' }, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => el('option', { value: m }, m))),
        el('label', { for: 'try-path' }, 'Path'), el('input', { id: 'try-path', type: 'text', value: '/' }),
        el('label', { for: 'try-body' }, 'Body (JSON)'), el('textarea', { id: 'try-body', rows: 4 }),
        el('button', { type: 'submit' }, 'Send')),
      el('div', { id: 'try-result', 'aria-live': 'polite' }));
    const tryIt = (method, path, example) => {
      $('#try-method').value = method.toUpperCase();
      $('#try-path').value = path;
      $('#try-body').value = example === undefined ? '' : JSON.stringify(example, null, 2);
      $('#try-key').focus();
    };
    async function sendTry() {
      const out = $('#try-result');
      out.replaceChildren(el('p', {}, 'Sending…'));
      try {
        const r = await api('POST', '/portal/api/try', { service: data.service, method: $('#try-method').value, path: $('#try-path').value, key: $('#try-key').value || undefined, body: $('#try-body').value || undefined });
        out.replaceChildren(el('p', { id: 'try-status' }, 'Status ', el('strong', {}, String(r.status)), ` in ${r.duration_ms} ms`), el('pre', {}, r.body));
      } catch (err) {
        out.replaceChildren(el('p', { class: 'error' }, err.status === 401 ? 'Sign in to use Try it.' : err.message));
      }
    }
    const ops = [];
    if (doc) {
      for (const [path, item] of Object.entries(doc.paths || {})) {
        const pathItem = resolveRef(doc, item);
        for (const m of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']) if (pathItem[m]) ops.push(operationView(doc, path, m, pathItem[m], pathItem.parameters, tryIt));
      }
    }
    const schemas = doc && doc.components && doc.components.schemas ? Object.entries(doc.components.schemas) : [];
    content().replaceChildren(
      el('p', {}, data.description),
      el('p', {}, 'Base URL: ', el('code', { id: 'base-url' }, doc ? doc.servers[0].url : data.base_url)),
      data.tags.length ? el('p', { class: 'tags' }, data.tags.map((t) => el('span', { class: 'tag' }, t))) : null,
      doc && doc.info && doc.info.version ? el('p', { class: 'muted' }, 'Version ' + doc.info.version + ' · OpenAPI ' + doc.openapi) : null,
      el('div', { class: 'layout' },
        el('section', { class: 'operations', 'aria-labelledby': 'ops-h' }, el('h2', { id: 'ops-h' }, 'Operations'), ops.length ? ops : el('p', {}, 'No OpenAPI document is published for this API.'),
          schemas.length ? el('section', { 'aria-labelledby': 'schemas-h' }, el('h2', { id: 'schemas-h' }, 'Schemas'), schemas.map(([n, s]) => el('div', { class: 'named-schema' }, el('h3', {}, n), schemaView(doc, s, 1)))) : null),
        tryPanel));
  }

  // ---- accounts ----
  async function accountForm(kind) {
    const cfg = await api('GET', '/portal/api/config');
    const form = el('form', { id: kind + '-form', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('POST', '/portal/api/' + kind, { email: $('#email').value, password: $('#password').value });
        location.assign('/keys');
      } catch (err) {
        status(err.message, true);
        $('#password').focus();
      }
    } },
      el('label', { for: 'email' }, 'Email'), el('input', { id: 'email', type: 'email', autocomplete: 'email', required: true }),
      el('label', { for: 'password' }, 'Password'), el('input', { id: 'password', type: 'password', autocomplete: kind === 'sign-up' ? 'new-password' : 'current-password', minlength: kind === 'sign-up' ? 10 : null, required: true }),
      el('button', { type: 'submit' }, kind === 'sign-up' ? 'Create account' : 'Sign in'));
    content().replaceChildren(form,
      cfg.oidc ? el('p', {}, el('a', { class: 'button', href: cfg.oidc.start }, cfg.oidc.label)) : null,
      el('p', {}, kind === 'sign-up' ? el('a', { href: '/sign-in' }, 'I have an account') : el('a', { href: '/sign-up' }, 'Create an account')));
  }

  // ---- keys ----
  async function keysPage() {
    const cfg = await api('GET', '/portal/api/config');
    const plans = cfg.self_service.plans;
    const secretBox = el('div', { id: 'secret', 'aria-live': 'polite' });
    const list = el('div', { id: 'key-list' });
    const showSecret = (r, verb) => secretBox.replaceChildren(el('p', {}, `Key "${r.key.name}" ${verb}. Copy it now; it is not shown again:`), el('p', {}, el('code', { id: 'new-secret' }, r.secret)), r.key.status === 'pending' ? el('p', { class: 'muted' }, 'It works once an operator approves it.') : null);
    async function load() {
      const { keys } = await api('GET', '/portal/api/keys');
      list.replaceChildren(keys.length === 0 ? el('p', {}, 'No keys yet.') : table('Your keys', ['Name', 'Key', 'Plan', 'Status', 'Created', 'Actions'], keys.map((k) => [
        k.name, el('code', {}, k.prefix + '…'), k.plan || '—', k.status, new Date(k.created_at).toLocaleString(),
        el('span', { class: 'actions' },
          k.status === 'active' ? el('button', { type: 'button', 'data-action': 'rotate', onclick: async () => { showSecret(await api('POST', `/portal/api/keys/${k.id}/rotate`), 'rotated'); await load(); } }, 'Rotate ' + k.name) : null,
          el('button', { type: 'button', 'data-action': 'revoke', onclick: async () => { if (!confirm(`Revoke key "${k.name}"? Calls with it stop working.`)) return; await api('DELETE', `/portal/api/keys/${k.id}`); status(`Key "${k.name}" revoked.`); secretBox.replaceChildren(); await load(); } }, 'Revoke ' + k.name)),
      ])));
    }
    const form = el('form', { id: 'key-form', onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { name: $('#key-name').value };
        if (plans) body.plan = $('#key-plan').value;
        showSecret(await api('POST', '/portal/api/keys', body), 'created');
        $('#key-name').value = '';
        await load();
      } catch (err) { status(err.message, true); }
    } },
      el('h2', {}, 'Create a key'),
      el('label', { for: 'key-name' }, 'Name'), el('input', { id: 'key-name', required: true, maxlength: 64 }),
      plans ? [el('label', { for: 'key-plan' }, 'Plan'), el('select', { id: 'key-plan' }, plans.map((p) => el('option', { value: p }, p)))] : el('p', { class: 'muted' }, 'Keys need an operator\'s approval here: yours is created pending.'),
      el('button', { type: 'submit' }, plans ? 'Create key' : 'Request access'));
    content().replaceChildren(form, secretBox, list);
    await load();
  }

  // ---- usage ----
  function chart(target, title, t, series, labels) {
    target.replaceChildren();
    if (typeof uPlot === 'undefined') return;
    const colors = ['#2a7', '#27a', '#d90', '#c33', '#777'];
    const opts = { title, width: Math.min(900, target.clientWidth || 800), height: 260, series: [{}, ...labels.map((l, i) => ({ label: l, stroke: colors[i % colors.length], width: 2 }))], axes: [{}, {}] };
    new uPlot(opts, [t, ...series], target);
  }

  async function usagePage() {
    const { keys } = await api('GET', '/portal/api/keys');
    const controls = el('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(); } },
      el('label', { for: 'step' }, 'Per'), el('select', { id: 'step' }, el('option', { value: 'hour' }, 'hour (last 24 h)'), el('option', { value: 'day' }, 'day (last 30 days)'), el('option', { value: 'minute' }, 'minute (last hour)')),
      el('label', { for: 'key' }, 'Key'), el('select', { id: 'key' }, el('option', { value: '' }, 'All keys'), keys.map((k) => el('option', { value: k.id }, k.name))),
      el('button', { type: 'submit' }, 'Show'));
    const callsChart = el('figure', { id: 'calls-chart', 'aria-label': 'Calls by status class' });
    const latencyChart = el('figure', { id: 'latency-chart', 'aria-label': 'Latency percentiles' });
    const summary = el('div', { id: 'usage-summary' });
    content().replaceChildren(controls, summary, callsChart, latencyChart);
    async function load() {
      const params = new URLSearchParams({ step: $('#step').value });
      if ($('#key').value) params.set('key', $('#key').value);
      const u = await api('GET', '/portal/api/usage?' + params);
      const t = u.series.map((p) => p.t / 1000);
      const classes = ['2xx', '3xx', '4xx', '5xx'];
      chart(callsChart, 'Calls per ' + u.step, t, classes.map((c) => u.series.map((p) => p.calls[c])), classes);
      chart(latencyChart, 'Latency (ms)', t, ['p50', 'p95', 'p99', 'avg'].map((q) => u.series.map((p) => p[q])), ['p50', 'p95', 'p99', 'average']);
      const total = (c) => u.series.reduce((a, p) => a + p.calls[c], 0);
      summary.replaceChildren(
        table('Calls in the period', ['2xx', '3xx', '4xx', '5xx'], [classes.map((c) => el('span', { 'data-class': c }, String(total(c))))]),
        u.quota ? el('p', { id: 'quota' }, `Quota: ${u.quota.used} of ${u.quota.limit} per ${u.quota.period} used, ${u.quota.left} left (resets ${new Date(u.quota.reset_at).toLocaleString()})`) : el('p', { id: 'quota', class: 'muted' }, 'No quota on your plan.'),
        u.services.length ? table('By API', ['API', 'Calls', 'Errors', 'p95 (ms)'], u.services.map((s) => [s.key, String(s.calls), String(s.errors), s.p95 === null ? '—' : String(s.p95)])) : null);
    }
    await load();
  }

  // ---- operator ----
  async function adminPage() {
    const approvals = el('section', { 'aria-labelledby': 'appr-h' }, el('h2', { id: 'appr-h' }, 'Approvals'), el('div', { id: 'approvals' }));
    const analytics = el('section', { 'aria-labelledby': 'an-h' }, el('h2', { id: 'an-h' }, 'Traffic (last 24 h)'), el('div', { id: 'analytics' }), el('figure', { id: 'errors-chart', 'aria-label': 'Error rate per service' }));
    const consumers = el('section', { 'aria-labelledby': 'cons-h' }, el('h2', { id: 'cons-h' }, 'Consumers'), el('div', { id: 'consumers' }));
    content().replaceChildren(approvals, analytics, consumers);
    async function load() {
      const [a, an, c] = await Promise.all([api('GET', '/portal/api/admin/approvals'), api('GET', '/portal/api/admin/analytics?step=hour'), api('GET', '/portal/api/admin/consumers')]);
      $('#approvals').replaceChildren(a.pending.length === 0 ? el('p', {}, 'Nothing waits for approval.') : table('Keys waiting for approval', ['Account', 'Key', 'Requested', 'Decision'], a.pending.map((k) => [k.account.email || '?', k.name, new Date(k.created_at).toLocaleString(), el('span', { class: 'actions' },
        el('button', { type: 'button', onclick: async () => { await api('POST', '/portal/api/admin/approvals/' + k.id, { decision: 'approve' }); await load(); } }, 'Approve ' + k.name),
        el('button', { type: 'button', onclick: async () => { await api('POST', '/portal/api/admin/approvals/' + k.id, { decision: 'reject' }); await load(); } }, 'Reject ' + k.name))])));
      $('#analytics').replaceChildren(
        table('Top consumers', ['Consumer', 'Calls', 'Errors', 'p95 (ms)'], an.top_consumers.map((t) => [t.name, String(t.calls), String(t.errors), t.p95 === null ? '—' : String(t.p95)])),
        table('Per service', ['Service', 'Calls', 'Error rate', 'p95 (ms)'], an.services.map((s) => [s.service, String(s.calls), (s.error_rate * 100).toFixed(1) + ' %', s.p95 === null ? '—' : String(s.p95)])));
      if (an.series.length) {
        const t = an.series[0].series.map((p) => p.t / 1000);
        chart($('#errors-chart'), 'Error rate per service (%)', t, an.series.map((s) => s.series.map((p) => { const all = p.calls['2xx'] + p.calls['3xx'] + p.calls['4xx'] + p.calls['5xx']; return all === 0 ? null : (100 * (p.calls['4xx'] + p.calls['5xx'])) / all; })), an.series.map((s) => s.service));
      }
      $('#consumers').replaceChildren(table('Portal accounts', ['Email', 'Role', 'Keys', 'Since'], c.accounts.map((x) => [x.email, x.role, String(x.keys.filter((k) => k.status === 'active').length), new Date(x.created_at).toLocaleDateString()])),
        c.configured.length ? table('Consumers from the config', ['Username', 'Plan', 'Groups'], c.configured.map((x) => [x.username, x.plan || '—', x.groups.join(', ')])) : null);
    }
    await load();
  }

  const PAGES = { catalog, api: apiPage, 'sign-in': () => accountForm('sign-in'), 'sign-up': () => accountForm('sign-up'), keys: keysPage, usage: usagePage, admin: adminPage };

  async function main() {
    try {
      const s = await api('GET', '/portal/api/session');
      const out = $('#sign-out');
      if (out) out.addEventListener('click', async () => { await api('POST', '/portal/api/sign-out'); location.assign('/'); });
      const page = document.body.dataset.page;
      if (['keys', 'usage', 'admin'].includes(page) && !s.authenticated) return location.assign('/sign-in');
      await PAGES[page]();
      document.body.dataset.ready = 'true';
    } catch (err) {
      status(err.message, true);
      document.body.dataset.ready = 'error';
    }
  }
  main();
})();
