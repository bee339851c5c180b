// Northgate developer portal front end. The server renders each page's frame, the catalog,
// an API's summary and the sign-in forms; this script adds search as you type, the API
// reference, try-it, and the account pages, from the JSON endpoints under /portal/api
// (docs/portal.md). No framework, no build step, no third-party requests.
'use strict';
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const content = () => $('#content');
  let csrf = '';
  // Keys shown on the Keys page in this tab (created or rotated), so that Try it can offer
  // them: sessionStorage only (this tab, gone when it closes), cleared on sign-out.
  const KEYS_SEEN = 'northgate.portal.keys';

  /** Appends only real children: null, undefined and false are "nothing", never the text "null". */
  function fill(node, ...children) {
    node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
    return node;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (k === 'text') children.unshift(v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    return fill(node, children);
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

  function seenKeys() {
    try {
      return JSON.parse(sessionStorage.getItem(KEYS_SEEN) || '{}');
    } catch {
      return {};
    }
  }
  function rememberKey(id, secret) {
    const all = seenKeys();
    if (secret === null) delete all[id];
    else all[id] = secret;
    try {
      sessionStorage.setItem(KEYS_SEEN, JSON.stringify(all));
    } catch {
      // storage off: Try it asks for the key instead
    }
  }

  function table(caption, headers, rows) {
    return el('div', { class: 'table-wrap' }, el('table', {}, el('caption', { text: caption }), el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', text: h })))), el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => el('td', { 'data-label': headers[i] }, c)))))));
  }

  function empty(title, hint) {
    return el('div', { class: 'empty' }, el('p', {}, el('strong', {}, title)), hint ? el('p', { class: 'muted' }, hint) : null);
  }

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

  // ---- catalog: the server rendered the list; this searches as you type ----
  function card(a) {
    const meta = [a.versions.length ? el('span', { class: 'version' }, 'v' + a.versions.join(', ')) : null, a.tags.map((t) => el('span', { class: 'tag' }, t))];
    return el('li', { class: 'card' }, el('article', {},
      el('h2', {}, el('a', { href: '/apis/' + encodeURIComponent(a.service) }, a.title)),
      a.description ? el('p', {}, a.description) : null,
      a.tags.length || a.versions.length ? el('p', { class: 'meta' }, meta) : null));
  }

  async function catalog() {
    const form = $('form.filters');
    if (!form) return;
    let timer = null;
    let seq = 0;
    async function load() {
      const params = new URLSearchParams();
      if ($('#q').value) params.set('q', $('#q').value);
      if ($('#tag').value) params.set('tag', $('#tag').value);
      const mine = ++seq;
      const data = await api('GET', '/portal/api/apis?' + params);
      if (mine !== seq) return;
      fill($('#api-list'), data.apis.map(card));
      $('#api-empty').hidden = data.apis.length > 0;
      $('#api-count').textContent = data.apis.length === 0 ? '' : `${data.apis.length} API${data.apis.length === 1 ? '' : 's'}`;
      status('');
      history.replaceState(null, '', params.toString() ? '/?' + params : '/');
    }
    const search = () => load().catch((err) => status(err.message, true));
    form.addEventListener('submit', (e) => { e.preventDefault(); search(); });
    $('#q').addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 120); });
    $('#tag').addEventListener('change', search);
  }

  // ---- API page: the reference from the OpenAPI document, and try-it ----
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

  function mediaView(doc, type, media) {
    const example = exampleOf(media);
    return el('div', { class: 'media' }, el('p', {}, el('code', {}, type)), media.schema ? schemaView(doc, media.schema, 1) : null, example !== undefined ? el('pre', {}, JSON.stringify(example, null, 2)) : null);
  }

  function operationView(doc, path, method, op, pathParams, tryIt) {
    const id = 'op-' + method + '-' + path.replace(/[^A-Za-z0-9]+/g, '-');
    const params = [...(pathParams || []), ...(op.parameters || [])].map((p) => resolveRef(doc, p));
    const body = op.requestBody ? resolveRef(doc, op.requestBody) : null;
    return el('section', { class: 'operation', id, 'aria-labelledby': id + '-h' },
      el('h3', { id: id + '-h' }, el('span', { class: 'method method-' + method }, method.toUpperCase()), ' ', el('code', {}, path), op.summary ? ' — ' + op.summary : ''),
      op.description ? el('p', {}, op.description) : null,
      params.length ? table('Parameters', ['Name', 'In', 'Required', 'Schema', 'Description'], params.map((p) => [el('code', {}, p.name), p.in, p.required ? 'yes' : 'no', p.schema ? schemaView(doc, p.schema, 1) : '', p.description || ''])) : null,
      body ? el('div', { class: 'body' }, el('h4', {}, 'Request body' + (body.required ? ' (required)' : '')), Object.entries(body.content || {}).map(([type, media]) => mediaView(doc, type, media))) : null,
      el('h4', {}, 'Responses'),
      el('dl', { class: 'responses' }, Object.entries(op.responses || {}).flatMap(([code, r]) => {
        const resp = resolveRef(doc, r);
        return [el('dt', {}, el('code', {}, code)), el('dd', {}, resp.description || '', Object.entries(resp.content || {}).map(([type, media]) => mediaView(doc, type, media)))];
      })),
      tryIt ? el('button', { type: 'button', class: 'try secondary', onclick: () => tryIt(method, path, body ? exampleOf(Object.values(body.content || {})[0]) : undefined) }, 'Try ' + method.toUpperCase() + ' ' + path) : null);
  }

  // Paths go to the server as typed; characters a URL cannot hold are percent-encoded here.
  const encodePath = (p) => p.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/g, (c) => encodeURIComponent(c));

  function prettyBody(text, headers) {
    if (/json/i.test(headers['content-type'] || '')) {
      try {
        return JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON after all: shown as it came
      }
    }
    return text;
  }

  async function tryPanel(service) {
    const form = $('#try-form');
    if (!form) return null;
    const choice = $('#try-key-choice');
    const keyInput = $('#try-key');
    const seen = seenKeys();
    const { keys } = await api('GET', '/portal/api/keys');
    const active = keys.filter((k) => k.status === 'active');
    fill(choice, active.length === 0 ? el('option', { value: '' }, 'No keys yet (create one under Keys)') : null,
      active.map((k) => el('option', { value: k.id, 'data-prefix': k.prefix }, `${k.name} (${k.prefix}…${k.plan ? ', ' + k.plan : ''})`)),
      el('option', { value: '' }, active.length ? 'Another key (paste it below)' : 'Paste a key below'));
    const pick = () => {
      const k = active.find((x) => x.id === choice.value);
      keyInput.value = k && seen[k.id] ? seen[k.id] : '';
      keyInput.placeholder = k && !seen[k.id] ? `Paste the key starting ${k.prefix}…` : 'ng_…';
    };
    choice.addEventListener('change', pick);
    const first = active.find((k) => seen[k.id]) || active[0];
    if (first) choice.value = first.id;
    pick();
    // A request the API's document refuses (request-validator): each problem at its JSON pointer.
    const contractErrors = (r) => {
      if (!/problem\+json/.test(r.headers['content-type'] || '')) return null;
      let errors;
      try { errors = JSON.parse(r.body).errors; } catch { return null; }
      if (!Array.isArray(errors) || errors.length === 0) return null;
      return el('div', { id: 'try-errors' }, el('p', {}, 'The request does not match the API description:'),
        el('ul', {}, errors.map((x) => el('li', {}, el('code', {}, String(x.pointer)), ' ', String(x.message)))));
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const out = $('#try-result');
      fill(out, el('p', { class: 'loading', 'aria-busy': 'true' }, 'Sending…'));
      try {
        const r = await api('POST', '/portal/api/try', { service, method: $('#try-method').value, path: encodePath($('#try-path').value), key: keyInput.value || undefined, body: $('#try-body').value || undefined });
        const cls = r.status < 300 ? 'ok' : r.status < 500 ? 'warn' : 'bad';
        fill(out,
          el('p', { id: 'try-status' }, 'Status ', el('strong', { class: 'code-' + cls }, String(r.status)), ` in ${r.duration_ms} ms`),
          r.body === '' ? el('p', { class: 'muted' }, 'The response has no body.') : el('pre', { class: 'response' }, prettyBody(r.body, r.headers)),
          r.truncated ? el('p', { class: 'muted' }, 'Only the first 256 KiB are shown.') : null,
          contractErrors(r),
          el('details', {}, el('summary', {}, 'Response headers'), el('pre', { class: 'response' }, Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n'))));
      } catch (err) {
        fill(out, el('p', { class: 'error' }, err.status === 401 ? 'Sign in to use Try it.' : err.message));
      }
    });
    return (method, path, example) => {
      $('#try-method').value = method.toUpperCase();
      $('#try-path').value = path;
      $('#try-body').value = example === undefined ? '' : JSON.stringify(example, null, 2);
      (keyInput.value ? $('#try-path') : keyInput).focus();
    };
  }

  async function apiPage() {
    const service = document.body.dataset.api;
    if (!service) return;
    const [data, tryIt] = await Promise.all([api('GET', '/portal/api/apis/' + encodeURIComponent(service)), tryPanel(service)]);
    const doc = data.openapi;
    if (!doc) return;
    const ops = [];
    for (const [path, item] of Object.entries(doc.paths || {})) {
      const pathItem = resolveRef(doc, item);
      for (const m of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']) if (pathItem[m]) ops.push(operationView(doc, path, m, pathItem[m], pathItem.parameters, tryIt));
    }
    const schemas = doc.components && doc.components.schemas ? Object.entries(doc.components.schemas) : [];
    fill($('#operations'),
      ops.length ? ops : empty('The OpenAPI document lists no operations.'),
      schemas.length ? el('section', { 'aria-labelledby': 'schemas-h' }, el('h2', { id: 'schemas-h' }, 'Schemas'), schemas.map(([n, s]) => el('div', { class: 'named-schema' }, el('h3', {}, n), schemaView(doc, s, 1)))) : null);
  }

  // ---- accounts: the server rendered the form ----
  function accountForm(kind) {
    const form = $('#' + kind + '-form');
    if (!form) return;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = $('button[type=submit]', form);
      button.disabled = true;
      try {
        await api('POST', '/portal/api/' + kind, { email: $('#email').value, password: $('#password').value });
        location.assign('/keys');
      } catch (err) {
        status(err.message, true);
        button.disabled = false;
        $('#password').focus();
      }
    });
  }

  // ---- keys ----
  async function keysPage() {
    const cfg = await api('GET', '/portal/api/config');
    const plans = cfg.self_service.plans;
    const secretBox = el('div', { id: 'secret', 'aria-live': 'polite' });
    const list = el('div', { id: 'key-list' });
    const showSecret = (r, verb) => {
      rememberKey(r.key.id, r.secret);
      fill(secretBox, el('div', { class: 'notice' },
        el('p', {}, `Key "${r.key.name}" ${verb}. Copy it now; it is not shown again:`),
        el('p', {}, el('code', { id: 'new-secret', class: 'secret' }, r.secret)),
        r.key.status === 'pending' ? el('p', { class: 'muted' }, 'It works once an operator approves it.') : el('p', { class: 'muted' }, 'Try it on an API page offers it while this tab is open.')));
    };
    async function load() {
      const { keys } = await api('GET', '/portal/api/keys');
      fill(list, keys.length === 0 ? empty('No keys yet.', 'Create a key above to call the APIs.') : table('Your keys', ['Name', 'Key', 'Plan', 'Status', 'Created', 'Actions'], keys.map((k) => [
        k.name, el('code', {}, k.prefix + '…'), k.plan || '—', el('span', { class: 'status status-' + k.status }, k.status), when(k.created_at),
        el('span', { class: 'actions' },
          k.status === 'active' ? el('button', { type: 'button', class: 'secondary', 'data-action': 'rotate', onclick: async () => { showSecret(await api('POST', `/portal/api/keys/${k.id}/rotate`), 'rotated'); await load(); } }, 'Rotate ' + k.name) : null,
          el('button', { type: 'button', class: 'danger', 'data-action': 'revoke', onclick: async () => { if (!confirm(`Revoke key "${k.name}"? Calls with it stop working.`)) return; await api('DELETE', `/portal/api/keys/${k.id}`); rememberKey(k.id, null); status(`Key "${k.name}" revoked.`); fill(secretBox); await load(); } }, 'Revoke ' + k.name)),
      ])));
    }
    const form = el('form', { id: 'key-form', class: 'panel', onsubmit: async (e) => {
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
      el('div', { class: 'row' },
        el('div', { class: 'field grow' }, el('label', { for: 'key-name' }, 'Name'), el('input', { id: 'key-name', required: true, maxlength: 64, placeholder: 'e.g. my-laptop' })),
        plans ? el('div', { class: 'field' }, el('label', { for: 'key-plan' }, 'Plan'), el('select', { id: 'key-plan' }, plans.map((p) => el('option', { value: p }, p)))) : null,
        el('button', { type: 'submit' }, plans ? 'Create key' : 'Request access')),
      plans ? null : el('p', { class: 'muted' }, 'Keys need an operator\'s approval here: yours is created pending.'));
    await load();
    fill(content(), form, secretBox, list);
  }

  // ---- usage ----
  function chart(target, title, t, series, labels) {
    fill(target);
    if (typeof uPlot === 'undefined') return;
    const colors = ['#2a7', '#27a', '#d90', '#c33', '#777'];
    const width = Math.max(260, Math.min(900, target.clientWidth || content().clientWidth || 800));
    const opts = { title, width, height: 240, series: [{}, ...labels.map((l, i) => ({ label: l, stroke: colors[i % colors.length], width: 2 }))], axes: [{}, {}] };
    new uPlot(opts, [t, ...series], target);
  }

  async function usagePage() {
    const { keys } = await api('GET', '/portal/api/keys');
    const controls = el('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(); } },
      el('div', { class: 'field' }, el('label', { for: 'step' }, 'Per'), el('select', { id: 'step' }, el('option', { value: 'hour' }, 'hour (last 24 h)'), el('option', { value: 'day' }, 'day (last 30 days)'), el('option', { value: 'minute' }, 'minute (last hour)'))),
      el('div', { class: 'field' }, el('label', { for: 'key' }, 'Key'), el('select', { id: 'key' }, el('option', { value: '' }, 'All keys'), keys.map((k) => el('option', { value: k.id }, k.name)))),
      el('button', { type: 'submit' }, 'Show'));
    const callsChart = el('figure', { id: 'calls-chart', 'aria-label': 'Calls by status class' });
    const latencyChart = el('figure', { id: 'latency-chart', 'aria-label': 'Latency percentiles' });
    const summary = el('div', { id: 'usage-summary' });
    const none = el('div', { id: 'usage-empty' });
    fill(content(), controls, summary, none, callsChart, latencyChart);
    async function load() {
      const params = new URLSearchParams({ step: $('#step').value });
      if ($('#key').value) params.set('key', $('#key').value);
      const u = await api('GET', '/portal/api/usage?' + params);
      const classes = ['2xx', '3xx', '4xx', '5xx'];
      const total = (c) => u.series.reduce((a, p) => a + p.calls[c], 0);
      const all = classes.reduce((a, c) => a + total(c), 0);
      fill(summary,
        table('Calls in the period', classes, [classes.map((c) => el('span', { 'data-class': c }, String(total(c))))]),
        u.quota ? el('p', { id: 'quota' }, `Quota: ${u.quota.used} of ${u.quota.limit} per ${u.quota.period} used, ${u.quota.left} left (resets ${when(u.quota.reset_at)})`) : el('p', { id: 'quota', class: 'muted' }, 'No quota on your plan.'),
        u.services.length ? table('By API', ['API', 'Calls', 'Errors', 'p95 (ms)'], u.services.map((s) => [s.key, String(s.calls), String(s.errors), s.p95 === null ? '—' : String(s.p95)])) : null);
      if (all === 0) {
        fill(none, empty('No calls in this period yet.', keys.length ? 'Calls made with your keys show here within seconds.' : 'Create a key under Keys, then call an API with it.'));
        fill(callsChart);
        fill(latencyChart);
        return;
      }
      fill(none);
      const t = u.series.map((p) => p.t / 1000);
      chart(callsChart, 'Calls per ' + u.step, t, classes.map((c) => u.series.map((p) => p.calls[c])), classes);
      chart(latencyChart, 'Latency (ms)', t, ['p50', 'p95', 'p99', 'avg'].map((q) => u.series.map((p) => p[q])), ['p50', 'p95', 'p99', 'average']);
    }
    await load();
  }

  // ---- operator ----
  async function adminPage() {
    const [a, an, c] = await Promise.all([api('GET', '/portal/api/admin/approvals'), api('GET', '/portal/api/admin/analytics?step=hour'), api('GET', '/portal/api/admin/consumers')]);
    const approvals = el('div', { id: 'approvals' });
    const analytics = el('div', { id: 'analytics' });
    const errorsChart = el('figure', { id: 'errors-chart', 'aria-label': 'Error rate per service' });
    const consumers = el('div', { id: 'consumers' });
    fill(content(),
      el('section', { 'aria-labelledby': 'appr-h' }, el('h2', { id: 'appr-h' }, 'Approvals'), approvals),
      el('section', { 'aria-labelledby': 'an-h' }, el('h2', { id: 'an-h' }, 'Traffic (last 24 h)'), analytics, errorsChart),
      el('section', { 'aria-labelledby': 'cons-h' }, el('h2', { id: 'cons-h' }, 'Consumers'), consumers));
    const decide = (k, decision) => async () => { await api('POST', '/portal/api/admin/approvals/' + k.id, { decision }); await adminPage(); };
    fill(approvals, a.pending.length === 0 ? empty('Nothing waits for approval.') : table('Keys waiting for approval', ['Account', 'Key', 'Requested', 'Decision'], a.pending.map((k) => [k.account.email || '?', k.name, when(k.created_at), el('span', { class: 'actions' },
      el('button', { type: 'button', onclick: decide(k, 'approve') }, 'Approve ' + k.name),
      el('button', { type: 'button', class: 'danger', onclick: decide(k, 'reject') }, 'Reject ' + k.name))])));
    const calls = an.services.reduce((n, s) => n + s.calls, 0);
    fill(analytics, calls === 0 ? empty('No traffic in the last 24 hours.', 'Calls through the gateway show here within seconds.') : [
      table('Top consumers', ['Consumer', 'Calls', 'Errors', 'p95 (ms)'], an.top_consumers.map((t) => [t.name, String(t.calls), String(t.errors), t.p95 === null ? '—' : String(t.p95)])),
      table('Per service', ['Service', 'Calls', 'Error rate', 'p95 (ms)'], an.services.map((s) => [s.service, String(s.calls), (s.error_rate * 100).toFixed(1) + ' %', s.p95 === null ? '—' : String(s.p95)]))]);
    if (calls > 0 && an.series.length) {
      const t = an.series[0].series.map((p) => p.t / 1000);
      chart(errorsChart, 'Error rate per service (%)', t, an.series.map((s) => s.series.map((p) => { const n = p.calls['2xx'] + p.calls['3xx'] + p.calls['4xx'] + p.calls['5xx']; return n === 0 ? null : (100 * (p.calls['4xx'] + p.calls['5xx'])) / n; })), an.series.map((s) => s.service));
    }
    fill(consumers,
      c.accounts.length === 0 ? empty('No portal accounts yet.') : table('Portal accounts', ['Email', 'Role', 'Keys', 'Since'], c.accounts.map((x) => [x.email, x.role, String(x.keys.filter((k) => k.status === 'active').length), new Date(x.created_at).toLocaleDateString()])),
      c.configured.length ? table('Consumers from the config', ['Username', 'Plan', 'Groups'], c.configured.map((x) => [x.username, x.plan || '—', x.groups.join(', ') || '—'])) : null);
  }

  const PAGES = { catalog, api: apiPage, 'sign-in': () => accountForm('sign-in'), 'sign-up': () => accountForm('sign-up'), keys: keysPage, usage: usagePage, admin: adminPage };

  async function main() {
    // A logo that does not load leaves no gap beside the title.
    const logo = $('.brand .logo');
    if (logo) {
      const gone = () => { logo.hidden = true; };
      if (logo.complete && logo.naturalWidth === 0) gone();
      else logo.addEventListener('error', gone);
    }
    try {
      const s = await api('GET', '/portal/api/session');
      const out = $('#sign-out');
      if (out) out.addEventListener('click', async () => {
        await api('POST', '/portal/api/sign-out');
        try { sessionStorage.removeItem(KEYS_SEEN); } catch { /* storage off */ }
        location.assign('/');
      });
      if (!s.authenticated) try { sessionStorage.removeItem(KEYS_SEEN); } catch { /* storage off */ }
      const page = PAGES[document.body.dataset.page];
      if (page) await page();
      document.body.dataset.ready = 'true';
    } catch (err) {
      status(err.message, true);
      const busy = $('.loading[aria-busy]');
      if (busy) fill(busy, 'This part of the page could not be loaded: ' + err.message).removeAttribute('aria-busy');
      document.body.dataset.ready = 'error';
    }
  }
  main();
})();
