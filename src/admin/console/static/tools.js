// Tools: "explain a request" (the answer of `northgate explain` for the running config) and
// the route table in match order.
import { useEffect, useState } from './vendor/hooks.js';
import { api, get } from './api.js';
import { focusTitle, html, Notice, PageHeader } from './ui.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`"${line.trim()}" is not "Name: value"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

function Explain() {
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const f = e.currentTarget.elements;
    setError(null);
    try {
      setAnswer(await api('POST', '/ui/api/explain', { method: f.method.value, url: f.url.value, headers: parseHeaders(f.headers.value) }));
    } catch (err) {
      setAnswer(null);
      setError(err.message);
    }
  };
  const x = answer;
  return html`<section class="card" aria-labelledby="explain-title">
    <h2 id="explain-title">Explain a request</h2>
    <form class="explain" onSubmit=${submit} noValidate>
      <div class="field"><label for="x-method">Method</label><select id="x-method" name="method">${METHODS.map((m) => html`<option>${m}</option>`)}</select></div>
      <div class="field grow"><label for="x-url">URL or path</label><input id="x-url" name="url" type="text" placeholder="/orders/7?x=1 or http://api.example.com/orders/7" required /></div>
      <div class="field wide"><label for="x-headers">Headers</label><textarea id="x-headers" name="headers" rows="2" placeholder="Name: value, one per line"></textarea></div>
      <div class="actions"><button class="primary" type="submit">Explain</button></div>
    </form>
    ${error && html`<${Notice} kind="error">${error}<//>`}
    ${x && html`<div class="explanation" aria-live="polite">
      <p><strong>${x.method} ${x.path}${x.query}</strong> <span class="muted">(host: ${x.host || '(none)'})</span>${x.normalized_from && html` <span class="muted">normalized from ${x.normalized_from}</span>`}</p>
      <h3>Candidates in match order</h3>
      <ol class="candidates">${x.candidates.filter((c) => !c.other_host).map((c) => html`<li class="miss"><span aria-label="did not match">✗</span> <strong>${c.route}</strong> <code>${c.match}</code><br /><span class="muted">${c.reason}</span></li>`)}
        ${x.matched && html`<li class="hit"><span aria-label="matched">✓</span> <strong>${x.matched.route}</strong> <code>${x.matched.match}</code></li>`}</ol>
      ${x.matched === null && html`<${Notice} kind="warn">No route matches: the gateway answers 404 (route-not-found).<//>`}
      ${x.refused && html`<${Notice} kind="warn">Refused with 400: ${x.refused}.<//>`}
      ${x.forward && html`<dl class="facts">
        <dt>Route</dt><dd>${x.forward.route}${x.forward.strip_path ? ', strip_path' : ''}${x.forward.preserve_host ? ', preserve_host' : ''}</dd>
        <dt>Service</dt><dd>${x.forward.service} (connect ${x.forward.connect_timeout_ms} ms, read ${x.forward.read_timeout_ms} ms)</dd>
        <dt>Upstream</dt><dd>${x.forward.upstream}: ${x.forward.targets.map((t) => `${t.url} (weight ${t.weight})`).join(', ')}</dd>
        <dt>Forwards to</dt><dd>${x.forward.urls.map((u) => html`<code>${u}</code> `)}</dd>
        <dt>Plugins</dt><dd>${x.forward.plugins.length === 0 ? '–' : x.forward.plugins.join(' › ')}</dd>
      </dl>`}
    </div>`}
  </section>`;
}

function RouteTable() {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get('/ui/api/routes').then((r) => setRows(r.data), (err) => setError(err.message));
  }, []);
  return html`<section class="card" aria-labelledby="table-title">
    <h2 id="table-title">Route table, in match order</h2>
    <p class="muted small">For each request the first entry that matches wins.</p>
    ${error && html`<${Notice} kind="error">${error}<//>`}
    ${rows && html`<div class="table-wrap"><table aria-labelledby="table-title">
      <thead><tr><th scope="col">#</th><th scope="col">Route</th><th scope="col" class="wide-only">Service</th><th scope="col">Host</th><th scope="col">Path</th><th scope="col">Methods</th><th scope="col" class="wide-only">Plugins</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr><td>${r.order}</td><th scope="row">${r.route}</th><td class="wide-only">${r.service}</td><td>${r.host ?? '*'}</td>
        <td><code>${r.path}</code> <span class="muted small">${r.kind}</span></td><td>${r.methods?.join(', ') ?? 'any'}</td><td class="wide-only">${r.plugins.join(', ') || '–'}</td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

export function Tools() {
  useEffect(focusTitle, []);
  return html`<${PageHeader} title="Tools" /><${Explain} /><${RouteTable} />`;
}
