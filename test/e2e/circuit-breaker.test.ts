// The circuit breaker against real fault-injecting upstreams on loopback: one answering
// 500, one that hangs, one that resets connections, one killed mid-test. Asserts the three
// states, fail-fast 503s with Retry-After and no upstream call, the probes of half-open,
// state kept across an unchanged reload, and the state-change events.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, before, describe, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { type CircuitStateChange } from '../../src/upstream/circuit-breaker.js';
import { circuitStateChannel } from '../../src/base/events.js';
import { http, startCli, startGateway, startUpstream, writeConfig, type InProcessGateway, type Upstream } from '../helpers/servers.js';

/** Collects circuit state changes of one service; `next` resolves with the next (or an already seen, unconsumed) change. */
function watchCircuit(service: string) {
  const seen: CircuitStateChange[] = [];
  let waiter: ((c: CircuitStateChange) => void) | null = null;
  let consumed = 0;
  const on = (m: unknown) => {
    const c = m as CircuitStateChange;
    if (c.service !== service) return;
    seen.push(c);
    if (waiter !== null && consumed < seen.length) {
      const w = waiter;
      waiter = null;
      w(seen[consumed++]!);
    }
  };
  subscribe(circuitStateChannel.name, on);
  return {
    seen,
    next(timeoutMs = 10_000): Promise<CircuitStateChange> {
      if (consumed < seen.length) return Promise.resolve(seen[consumed++]!);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no circuit change of ${service} within ${timeoutMs} ms`)), timeoutMs);
        waiter = (c) => {
          clearTimeout(t);
          resolve(c);
        };
      });
    },
    close: () => unsubscribe(circuitStateChannel.name, on),
  };
}

const problemType = (body: string): string => (JSON.parse(body) as { type: string }).type;

/** One service per entry, each on its own upstream with passive ejection off (so only the breaker acts). */
function gatewayConfig(services: Array<{ name: string; url: string; breaker: string; extra?: string }>): string {
  return `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
${services.map((s) => `  - { name: ${s.name}, targets: [{ url: "${s.url}" }], healthcheck: { passive: { consecutive_failures: 0 } } }`).join('\n')}
services:
${services
  .map(
    (s) => `  - name: ${s.name}
    upstream: ${s.name}
    retries: { attempts: 1 }
    circuit_breaker: ${s.breaker}
    ${s.extra ?? ''}
    routes: [{ paths: ["/${s.name}"] }]`,
  )
  .join('\n')}
`;
}

describe('circuit breaker: closed -> open -> half-open -> closed', () => {
  let failing = true;
  let hold = false;
  const held: Array<() => void> = [];
  let onHeld: (() => void) | null = null;
  let hits = 0;
  let up: Upstream;
  let broken: Upstream;
  let brokenHits = 0;
  let gw: InProcessGateway;
  let text = '';
  before(async () => {
    up = await startUpstream((req, res) => {
      hits++;
      req.resume();
      const answer = () => (failing ? res.writeHead(500).end('boom') : res.writeHead(200).end('ok'));
      if (!hold) return answer();
      held.push(answer);
      onHeld?.();
    });
    broken = await startUpstream((req, res) => {
      brokenHits++;
      req.resume();
      res.writeHead(500).end('boom');
    });
    text = gatewayConfig([
      { name: 'flaky', url: up.url, breaker: '{ failure_ratio: 0.5, min_requests: 4, window: 10s, open_for: 300ms, half_open_requests: 2 }' },
      { name: 'sticky', url: broken.url, breaker: '{ min_requests: 2, open_for: 1m }' },
    ]);
    gw = await startGateway(text);
  });
  after(async () => {
    await gw.close();
    await up.close();
    await broken.close();
  });

  test('opens after min_requests with enough failures; then 503 circuit-open at once, with Retry-After, no upstream call', async () => {
    const events = watchCircuit('flaky');
    try {
      for (let i = 0; i < 3; i++) assert.equal((await http(gw.url + '/flaky')).status, 500);
      assert.equal(events.seen.length, 0, 'fewer outcomes than min_requests never open the circuit');
      assert.equal((await http(gw.url + '/flaky')).status, 500);
      const opened = await events.next();
      assert.deepEqual({ from: opened.from, to: opened.to, failures: opened.failures, requests: opened.requests }, { from: 'closed', to: 'open', failures: 4, requests: 4 });
      const before = hits;
      const res = await http(gw.url + '/flaky');
      assert.equal(res.status, 503);
      assert.equal(res.headers['content-type'], 'application/problem+json');
      assert.equal(problemType(res.body), 'urn:northgate:problem:circuit-open');
      assert.equal(res.headers['retry-after'], '1', 'seconds left of open_for (300ms), rounded up');
      assert.equal(hits, before, 'no request reached the upstream');

      // After open_for: half-open. Two probes are let through (held by the upstream), a third is refused.
      failing = false;
      hold = true;
      assert.equal((await events.next()).to, 'half-open');
      const bothHeld = new Promise<void>((resolve) => (onHeld = () => held.length === 2 && resolve()));
      const probes = [http(gw.url + '/flaky'), http(gw.url + '/flaky')];
      await bothHeld;
      const third = await http(gw.url + '/flaky');
      assert.equal(third.status, 503);
      assert.equal(problemType(third.body), 'urn:northgate:problem:circuit-open');
      assert.equal(hits, before + 2);
      hold = false;
      for (const answer of held.splice(0)) answer();
      assert.deepEqual((await Promise.all(probes)).map((r) => r.status), [200, 200]);
      assert.equal((await events.next()).to, 'closed', 'all probes succeeded: closed');
      for (let i = 0; i < 5; i++) assert.equal((await http(gw.url + '/flaky')).status, 200);
    } finally {
      events.close();
    }
  });

  test('a failed probe opens the circuit again', async () => {
    const events = watchCircuit('flaky');
    try {
      failing = true;
      // The window still holds the 5 successes after closing: 5 failures make the ratio 0.5.
      for (let i = 0; i < 5; i++) assert.equal((await http(gw.url + '/flaky')).status, 500);
      assert.equal((await events.next()).to, 'open');
      assert.equal((await events.next()).to, 'half-open');
      assert.equal((await http(gw.url + '/flaky')).status, 500, 'the probe got the upstream answer');
      const reopened = await events.next();
      assert.deepEqual([reopened.from, reopened.to], ['half-open', 'open']);
    } finally {
      events.close();
    }
  });

  test('an unchanged reload keeps the state; a changed breaker config starts closed', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await http(gw.url + '/sticky')).status, 500);
    assert.equal((await http(gw.url + '/sticky')).status, 503);
    assert.equal(gw.reload(text).ok, true);
    assert.equal((await http(gw.url + '/sticky')).status, 503, 'still open after an unchanged reload');
    assert.equal(brokenHits, 2);
    assert.equal(gw.reload(text.replace('open_for: 1m', 'open_for: 2m')).ok, true);
    assert.equal((await http(gw.url + '/sticky')).status, 500, 'a new breaker config starts closed: the request reached the upstream');
    assert.equal(brokenHits, 3);
  });
});

describe('circuit breaker: what counts as a failure', () => {
  const ups: Upstream[] = [];
  let gw: InProcessGateway;
  let hangHits = 0;
  let killedHits = 0;
  let notFoundHits = 0;
  let killed: Upstream;
  before(async () => {
    const hang = await startUpstream((req) => {
      hangHits++;
      req.resume();
    });
    const reset = await startUpstream((req) => req.socket.destroy());
    killed = await startUpstream((req, res) => {
      killedHits++;
      req.resume();
      res.end('alive');
    });
    const notFound = await startUpstream((req, res) => {
      notFoundHits++;
      req.resume();
      res.writeHead(404).end('no');
    });
    ups.push(hang, reset, killed, notFound);
    const breaker = '{ failure_ratio: 0.5, min_requests: 3, open_for: 30s }';
    gw = await startGateway(
      gatewayConfig([
        { name: 'hang', url: hang.url, breaker, extra: 'timeouts: { read: 200ms }' },
        { name: 'reset', url: reset.url, breaker },
        { name: 'killed', url: killed.url, breaker },
        { name: 'notfound', url: notFound.url, breaker },
      ]),
    );
  });
  after(async () => {
    await gw.close();
    for (const u of ups) await u.close();
  });

  test('timeouts of a hanging upstream open the circuit', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await http(gw.url + '/hang')).status, 504);
    const res = await http(gw.url + '/hang');
    assert.equal(res.status, 503);
    assert.equal(problemType(res.body), 'urn:northgate:problem:circuit-open');
    assert.ok(Number(res.headers['retry-after']) >= 29, `Retry-After ${res.headers['retry-after']}`);
    assert.equal(hangHits, 3);
  });

  test('connection resets open the circuit', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await http(gw.url + '/reset')).status, 502);
    assert.equal(problemType((await http(gw.url + '/reset')).body), 'urn:northgate:problem:circuit-open');
  });

  test('an upstream killed mid-test (connection refused) opens the circuit', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await http(gw.url + '/killed')).status, 200);
    await killed.close();
    // 5 successes, then 5 refused connections: a ratio of 0.5 opens it.
    for (let i = 0; i < 5; i++) assert.equal((await http(gw.url + '/killed')).status, 502);
    assert.equal(problemType((await http(gw.url + '/killed')).body), 'urn:northgate:problem:circuit-open');
    assert.equal(killedHits, 5);
  });

  test('4xx answers are not failures: the circuit stays closed', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await http(gw.url + '/notfound')).status, 404);
    assert.equal(notFoundHits, 10);
  });
});

describe('circuit breaker in the real process: logged and exposed as northgate_circuit_state', () => {
  test('the state change is a log line and the gauge goes 0 -> 1', async () => {
    const up = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(500).end('boom');
    });
    const file = writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: broken
    url: "${up.url}"
    retries: { attempts: 1 }
    circuit_breaker: { min_requests: 2, open_for: 1m }
    routes: [{ paths: ["/"] }]
`);
    const gw = await startCli(['--config', file]);
    try {
      const gauge = async (): Promise<string | undefined> => {
        const families = parsePrometheus((await http(`http://127.0.0.1:${gw.statusPort}/metrics`)).body) as Array<{ name: string; metrics: Array<{ value: string; labels?: Record<string, string> }> }>;
        return families.find((f) => f.name === 'northgate_circuit_state')?.metrics.find((m) => m.labels?.['service'] === 'broken')?.value;
      };
      assert.equal(await gauge(), '0');
      for (let i = 0; i < 2; i++) assert.equal((await http(gw.url + '/')).status, 500);
      const line = await gw.waitFor((l) => l['type'] === 'circuit');
      assert.deepEqual({ level: line['level'], service: line['service'], from: line['from'], to: line['to'], failures: line['failures'], requests: line['requests'] }, { level: 'warn', service: 'broken', from: 'closed', to: 'open', failures: 2, requests: 2 });
      assert.equal((await http(gw.url + '/')).status, 503);
      assert.equal(await gauge(), '1');
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});
