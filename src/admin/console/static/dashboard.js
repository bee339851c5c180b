// The dashboard: the last hour of traffic per service and route (refreshed every 5 s), the
// upstream targets' health, circuit breakers, rate-limit and quota refusals, config reloads
// and the running config's version.
import { useEffect, useRef, useState } from './vendor/hooks.js';
import uPlot from './vendor/uplot.js';
import { get } from './api.js';
import { focusTitle, fmt, html, Notice, PageHeader } from './ui.js';

const REFRESH_MS = 5000;

function Chart({ points, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const css = getComputedStyle(document.documentElement);
    const color = (v) => css.getPropertyValue(v).trim();
    const width = () => Math.max(260, el.clientWidth);
    const opts = {
      width: width(),
      height: 220,
      axes: [
        { stroke: color('--muted'), grid: { stroke: color('--line') } },
        { stroke: color('--muted'), grid: { stroke: color('--line') }, label: 'req/s' },
        { side: 1, scale: 'ms', stroke: color('--muted'), grid: { show: false }, label: 'p95 ms' },
      ],
      // The last hour, whatever the number of points so far.
      scales: { x: { time: true, range: () => [Date.now() / 1000 - 3600, Date.now() / 1000] }, ms: {} },
      legend: { live: false },
      cursor: { points: { show: false } },
      series: [{}, { label: 'req/s', stroke: color('--accent'), width: 2 }, { label: 'p95 ms', stroke: color('--warn'), width: 2, scale: 'ms' }],
    };
    plot.current = new uPlot(opts, [[], [], []], el);
    const resize = () => plot.current.setSize({ width: width(), height: 220 });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.current.destroy();
    };
  }, []);
  useEffect(() => {
    plot.current?.setData([points.map((p) => p.at / 1000), points.map((p) => p.rps), points.map((p) => p.p95)]);
  }, [points]);
  return html`<figure class="chart"><div ref=${box} role="img" aria-label=${`${label}: requests per second and p95 latency over the last hour`}></div></figure>`;
}

function Stat({ label, value, tone }) {
  return html`<div class=${`stat ${tone ?? ''}`}><div class="stat-value">${value}</div><div class="stat-label">${label}</div></div>`;
}

export function Dashboard() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [focus, setFocus] = useState(null);
  useEffect(focusTitle, []);
  useEffect(() => {
    let stop = false;
    let timer = null;
    const load = async () => {
      const q = focus === null ? '' : `?service=${encodeURIComponent(focus.service)}&route=${encodeURIComponent(focus.route)}`;
      try {
        const d = await get(`/ui/api/dashboard${q}`);
        if (!stop) {
          setData(d);
          setError(null);
        }
      } catch (err) {
        if (!stop) setError(err.message);
      }
      if (!stop) timer = setTimeout(load, REFRESH_MS);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [focus]);

  if (data === null) return html`<${PageHeader} title="Dashboard" />${error ? html`<${Notice} kind="error">${error}<//>` : html`<p class="muted">Loading…</p>`}`;
  if (!data.metrics) return html`<${PageHeader} title="Dashboard" /><${Notice}>This node has no metrics to show. Config version ${data.config_version}.<//>`;
  const last = data.points.slice(-12);
  const recent = last.length === 0 ? { rps: 0, error_rate: 0 } : { rps: last.reduce((a, p) => a + p.rps, 0) / last.length, error_rate: last.reduce((a, p) => a + p.error_rate, 0) / last.length };
  const open = data.circuits.filter((c) => c.state !== 'closed');
  const down = data.targets.filter((t) => !t.healthy);
  const refusedRL = data.routes.reduce((a, r) => a + r.rate_limited, 0);
  const refusedQ = data.routes.reduce((a, r) => a + r.quota_exceeded, 0);
  const services = [...new Set(data.routes.map((r) => r.service))];
  return html`
    <${PageHeader} title="Dashboard">
      <span class="muted" aria-live="polite">Updated ${fmt.time(data.now)}</span>
    <//>
    ${error && html`<${Notice} kind="error">Refresh failed: ${error}<//>`}
    <section class="stats" aria-label="Summary">
      <${Stat} label="req/s (last minute)" value=${fmt.rate(recent.rps)} />
      <${Stat} label="5xx rate (last minute)" value=${fmt.pct(recent.error_rate)} tone=${recent.error_rate > 0.01 ? 'bad' : ''} />
      <${Stat} label="targets down" value=${`${down.length} / ${data.targets.length}`} tone=${down.length > 0 ? 'bad' : ''} />
      <${Stat} label="circuits open" value=${String(open.length)} tone=${open.length > 0 ? 'bad' : ''} />
      <${Stat} label="rate-limited (1 h)" value=${fmt.count(refusedRL)} />
      <${Stat} label="quota-refused (1 h)" value=${fmt.count(refusedQ)} />
      <${Stat} label="config version" value=${String(data.config_version)} />
      <${Stat} label="reloads ok / failed" value=${`${data.reloads.success} / ${data.reloads.failure}`} tone=${data.reloads.failure > 0 ? 'warn' : ''} />
    </section>
    <section class="card">
      <div class="card-head">
        <h2>Traffic${focus ? `: ${focus.service} / ${focus.route}` : ': all routes'}</h2>
        ${focus && html`<button onClick=${() => setFocus(null)}>Show all routes</button>`}
      </div>
      <${Chart} points=${data.points} label=${focus ? `${focus.service} ${focus.route}` : 'all routes'} />
      <p class="muted small">Since ${fmt.time(data.since)}; one point per 5 s. Last config load ${fmt.time(data.reloads.last_success_at)}.</p>
    </section>
    <section class="card">
      <h2 id="routes-title">Services and routes, last hour</h2>
      ${data.routes.length === 0 ? html`<p class="muted">No requests yet.</p>` : html`
      <div class="table-wrap"><table aria-labelledby="routes-title">
        <thead><tr><th scope="col">Service / route</th><th scope="col">req/s</th><th scope="col">5xx</th><th scope="col" class="wide-only">p50</th><th scope="col">p95</th><th scope="col" class="wide-only">p99</th><th scope="col" class="wide-only">429 limit</th><th scope="col" class="wide-only">429 quota</th></tr></thead>
        <tbody>${services.map((svc) => data.routes.filter((r) => r.service === svc).map((r) => html`
          <tr>
            <th scope="row"><button class="link" onClick=${() => setFocus({ service: r.service, route: r.route })} aria-label=${`Chart ${r.service || 'no route matched'} ${r.route}`.trim()}>${r.service === '' ? 'no route matched' : `${r.service} / ${r.route || '–'}`}</button></th>
            <td>${fmt.rate(r.rps)}</td><td class=${r.error_rate > 0.01 ? 'bad' : ''}>${fmt.pct(r.error_rate)}</td>
            <td class="wide-only">${fmt.ms(r.p50)}</td><td>${fmt.ms(r.p95)}</td><td class="wide-only">${fmt.ms(r.p99)}</td>
            <td class="wide-only">${fmt.count(r.rate_limited)}</td><td class="wide-only">${fmt.count(r.quota_exceeded)}</td>
          </tr>`))}</tbody>
      </table></div>`}
    </section>
    <div class="grid2">
      <section class="card">
        <h2 id="targets-title">Upstream targets</h2>
        ${data.targets.length === 0 ? html`<p class="muted">No targets.</p>` : html`<ul class="list" aria-labelledby="targets-title">${data.targets.map((t) => html`
          <li><span class=${`dot ${t.healthy ? 'ok' : 'bad'}`} aria-hidden="true"></span><span class="grow">${t.upstream}: ${t.target}</span><span>${t.healthy ? 'healthy' : 'ejected or failing'}</span></li>`)}</ul>`}
      </section>
      <section class="card">
        <h2 id="circuits-title">Circuit breakers</h2>
        ${data.circuits.length === 0 ? html`<p class="muted">No service has a circuit breaker.</p>` : html`<ul class="list" aria-labelledby="circuits-title">${data.circuits.map((c) => html`
          <li><span class=${`dot ${c.state === 'closed' ? 'ok' : c.state === 'open' ? 'bad' : 'warn'}`} aria-hidden="true"></span><span class="grow">${c.service}</span><span>${c.state}</span></li>`)}</ul>`}
      </section>
    </div>`;
}
