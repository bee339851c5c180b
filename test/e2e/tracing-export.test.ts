// Span export against a real local OTLP/HTTP collector that fails on purpose: a refused
// export (503) is retried and its spans arrive with the retry; a non-retryable refusal (400)
// drops the batch at once, and the drops show in northgate_tracing_spans_dropped_total; a
// 429 with Retry-After is retried no sooner than the collector asked.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, before, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { exportedSpans } from '../helpers/otlp.js';
import { http, startCli, startEchoUpstream, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

interface Post {
  status: number;
  /** performance.now() when the collector answered. */
  at: number;
  spans: Array<{ traceId: string; spanId: string }>;
}

/** What the collector answers to each POST, by its index (0-based). */
let answer: (index: number) => number = () => 200;
/** Whether the collector sends 103 Early Hints before each answer. */
let earlyHints = false;
const posts: Post[] = [];
const arrivals = new EventEmitter();
let collector: Upstream;
let echo: Upstream;
let gw: CliGateway;

before(async () => {
  collector = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answer(posts.length);
      // An informational answer first, with a Retry-After that is not the answer's.
      if (earlyHints) res.writeEarlyHints({ link: '</x>; rel=preload', 'retry-after': '30' });
      posts.push({ status, at: performance.now(), spans: exportedSpans(req.headers['content-type'], Buffer.concat(chunks)) });
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'Retry-After': '1' } : {}) }).end('{}');
      arrivals.emit('post');
    });
  });
  echo = await startEchoUpstream();
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
tracing: { endpoint: "${collector.url}/v1/traces", sampling: { ratio: 1 }, flush_interval: 50ms }
services:
  - { name: echo, url: "${echo.url}", routes: [{ name: any, paths: ["/"] }] }
`)]);
});
after(async () => {
  await gw?.stop();
  await echo.close();
  await collector.close();
});

/** Waits (bounded) until `done()` holds, re-checking on each POST the collector receives. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await Promise.race([once(arrivals, 'post'), new Promise((r) => setTimeout(r, 200))]);
  assert.ok(done(), what);
}

async function spanCounters(): Promise<{ exported: number; dropped: number }> {
  const res = await http(`http://127.0.0.1:${gw.statusPort}/metrics`);
  assert.equal(res.status, 200);
  const families = new Map((parsePrometheus(res.body) as Array<{ name: string; metrics: Array<{ value?: string }> }>).map((f) => [f.name, f]));
  const value = (name: string): number => Number(families.get(name)?.metrics[0]?.value ?? NaN);
  return { exported: value('northgate_tracing_spans_exported_total'), dropped: value('northgate_tracing_spans_dropped_total') };
}

const traceparent = (traceId: string) => `00-${traceId}-00f067aa0ba902b7-01`;

test('an export the collector refuses with 503 is retried, and its spans arrive with the retry', async () => {
  answer = (index) => (index === 0 ? 503 : 200);
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const res = await http(`${gw.url}/a`, { headers: { traceparent: traceparent(traceId) } });
  assert.equal(res.status, 200);
  const ofTrace = (p: Post) => p.spans.filter((s) => s.traceId === traceId).map((s) => s.spanId).sort();
  await until(() => posts.some((p) => p.status === 200 && ofTrace(p).length === 2), 'the spans reached the collector in an accepted export');
  assert.equal(posts[0]!.status, 503);
  assert.equal(ofTrace(posts[0]!).length, 2, 'the refused export carried the spans');
  const accepted = posts.find((p) => p.status === 200)!;
  assert.deepEqual(ofTrace(accepted), ofTrace(posts[0]!), 'the retry sent the same spans again');
  for (let i = 0; i < 50; i++) {
    const c = await spanCounters();
    if (c.exported === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(await spanCounters(), { exported: 2, dropped: 0 });
});

test('an export refused with 400 is not retried: its spans are dropped and counted in /metrics', async () => {
  answer = () => 400;
  const before = posts.length;
  const traceIds = ['1af7651916cd43dd8448eb211c80319c', '2af7651916cd43dd8448eb211c80319c', '3af7651916cd43dd8448eb211c80319c'];
  for (const traceId of traceIds) assert.equal((await http(`${gw.url}/b`, { headers: { traceparent: traceparent(traceId) } })).status, 200);
  const seen = () => posts.slice(before).flatMap((p) => p.spans).filter((s) => traceIds.includes(s.traceId));
  await until(() => seen().length >= 6, 'the 6 spans reached the collector');
  let counters = await spanCounters();
  for (let i = 0; i < 50 && counters.dropped < 6; i++) {
    await new Promise((r) => setTimeout(r, 100));
    counters = await spanCounters();
  }
  assert.deepEqual(counters, { exported: 2, dropped: 6 });
  // Dropped is counted once an export is given up; a retry would have come before that.
  const ids = seen().map((s) => s.spanId);
  assert.equal(new Set(ids).size, ids.length, 'each span was posted once');
});

/**
 * Sends one traced request while the collector refuses the next export with `status`;
 * returns how many ms after that refusal the retry carrying the same spans arrived.
 */
async function retryDelayAfter(status: number, traceId: string): Promise<number> {
  const before = posts.length;
  answer = (index) => (index === before ? status : 200);
  assert.equal((await http(`${gw.url}/r`, { headers: { traceparent: traceparent(traceId) } })).status, 200);
  const ofTrace = (p: Post) => p.spans.filter((s) => s.traceId === traceId).length;
  await until(() => posts.slice(before).some((p) => p.status === 200 && ofTrace(p) === 2), `the spans reached the collector after the ${status}`);
  const refused = posts[before]!;
  assert.equal(refused.status, status);
  assert.equal(ofTrace(refused), 2, 'the refused export carried the spans');
  const retry = posts.slice(before + 1).find((p) => ofTrace(p) === 2)!;
  return retry.at - refused.at;
}

test('an export refused with 429 and Retry-After: 1 is retried after that second, not after the 250 ms backoff', async () => {
  const delay = await retryDelayAfter(429, '4af7651916cd43dd8448eb211c80319c');
  assert.ok(delay >= 900, `retried ${Math.round(delay)} ms after the 429 that asked for 1 s`);
});

test("a 503 after a 103 Early Hints carrying Retry-After is retried on the exporter's own backoff: the 1xx is not the answer", async () => {
  earlyHints = true;
  try {
    const delay = await retryDelayAfter(503, '5af7651916cd43dd8448eb211c80319c');
    // The backoff is 250 ms ± 25%; the hint's 30 s (capped at 5 s) would come far later.
    assert.ok(delay < 3000, `retried ${Math.round(delay)} ms after the 503`);
  } finally {
    earlyHints = false;
  }
});
