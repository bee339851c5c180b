// Runs one autocannon load in its own process (so it can be pinned with taskset)
// and prints one JSON line with the result. argv: <url> <connections> <durationS> [headers JSON] [unique query name] [JSON body to POST].
// autocannon's own histogram has 1 ms resolution, so latencies are recorded here
// from its 'response' events (fractional ms) to get µs-level percentiles.
import autocannon from 'autocannon';

const url = process.argv[2] ?? '';
const connections = Number(process.argv[3] ?? 50);
const duration = Number(process.argv[4] ?? 10);
const headers = JSON.parse(process.argv[5] ?? '{}') as Record<string, string>;
/** When set, each request gets `?<name>=<counter>` (a new cache key every time). */
const uniqueQuery = process.argv[6] ?? '';
/** When set, each request is a POST of this JSON body. */
const postJson = process.argv[7] ?? '';
let counter = 0;
const base = new URL(url);
const prefix = `${base.pathname}${base.search === '' ? '?' : `${base.search}&`}${uniqueQuery}=`;

let lat = new Float64Array(1 << 16);
let n = 0;
let non2xx = 0;
const t0 = process.hrtime.bigint();

const requests = uniqueQuery === '' ? undefined : [{ setupRequest: (req: { path?: string }) => ({ ...req, path: prefix + String(++counter) }) }];
const post = postJson === '' ? {} : { method: 'POST' as const, body: postJson, headers: { ...headers, 'content-type': 'application/json' } };
const instance = autocannon({ url, connections, duration, pipelining: 1, headers, ...(requests ? { requests } : {}), ...post }, (err, result) => {
  const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (err) {
    process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
    process.exit(1);
  }
  const sorted = lat.subarray(0, n).sort();
  const pct = (p: number): number => (n ? (sorted[Math.min(n - 1, Math.floor((p / 100) * n))] as number) : 0);
  const out = {
    rps: n / elapsedS,
    p50ms: pct(50),
    p99ms: pct(99),
    requests: n,
    non2xx: Math.max(non2xx, result.non2xx),
    socketErrors: result.errors,
    socketDetail: `errors ${result.errors} (of which timeouts ${result.timeouts})`,
    durationS: elapsedS,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
});

instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
  if (n === lat.length) {
    const bigger = new Float64Array(lat.length * 2);
    bigger.set(lat);
    lat = bigger;
  }
  lat[n++] = responseTime;
  if (statusCode < 200 || statusCode > 299) non2xx++;
});

// The parent sends SIGINT to end an open-ended run early; results are still printed.
process.on('SIGINT', () => instance.stop());
process.on('SIGTERM', () => instance.stop());
