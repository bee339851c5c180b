// The access-log field list: what the config accepts and refuses (located, with hints).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCESS_LOG_FIELDS, compileAccessLine, compileAccessLog, compileRecordFromLine, DEFAULT_ACCESS_LOG_FIELDS, ms, queryRedactor, redactionFor } from '../../src/observability/access-log-format.js';
import { DEFAULT_SINK_FIELDS } from '../../src/observability/log-sink-config.js';
import type { RequestContext } from '../../src/proxy/context.js';
import { configProblems } from '../helpers/config.js';

const base = (accessLog: string) => `_format_version: "1"
access_log: ${accessLog}
services: [{ name: s, url: "http://127.0.0.1:1", routes: [{ paths: ["/"] }] }]
`;

test('every documented field and header fields are accepted', () => {
  assert.deepEqual(configProblems(base(`{ fields: [${ACCESS_LOG_FIELDS.join(', ')}, req.h.x-tenant, "res.h.content-type"] }`), 'a.yaml'), []);
});

test('unknown fields, upper-case header names, duplicates and an empty list are refused, located', () => {
  const lines = configProblems(base('{ fields: [request_id, latency, req.h.X-Tenant, res.h.] }'), 'a.yaml');
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.match(lines[0]!, /^a\.yaml:2:36 access_log\.fields\[1\]: unknown field "latency"/);
  assert.match(lines[1]!, /^a\.yaml:2:45 access_log\.fields\[2\]: unknown field "req\.h\.X-Tenant" \(header names are lower-case tokens\)/);
  assert.match(lines[2]!, /access_log\.fields\[3\]: unknown field "res\.h\."/);
  assert.equal(configProblems(base('{ fields: [status, status] }'), 'a.yaml').length, 1);
  assert.equal(configProblems(base('{ fields: [] }'), 'a.yaml').length, 1);
});

test('the compiled spec: off, stdout ("-" or no path), a file; one serializer per field list', () => {
  assert.equal(compileAccessLog({ enabled: false }), null);
  assert.equal(compileAccessLog(undefined)!.path, null);
  assert.equal(compileAccessLog({ path: '-' })!.path, null);
  assert.equal(compileAccessLog({ path: '/tmp/a.log' })!.path, '/tmp/a.log');
  assert.equal(compileAccessLog({ fields: ['status', 'method'] })!.line, compileAccessLog({ fields: ['status', 'method'] })!.line);
});

test('millisecond fields: the text of the number rounded to the microsecond, as String() would give it', () => {
  const samples = [0, 1, 7, 0.5, 0.05, 0.005, 0.0004, 0.0005, 12.345, 12.3456, 1.1, 1.01, 1.001, 99.999, 99.9999, 1234567.891, -0.0001, -2.5, -0.012, 1e15, 1e300];
  // And a sweep of microsecond values across the boundaries of each padding branch.
  for (let us = 0; us < 3000; us += 7) samples.push(us / 1000 + 1e-7);
  for (const n of samples) assert.equal(ms(n), String(Math.round(n * 1000) / 1000), `ms(${n})`);
});

test('credential redaction, attack: key parameters in any spelling are redacted; look-alikes and other parameters keep their bytes', () => {
  const rq = queryRedactor(redactionFor(['Token']).queryParams);
  const cases: Array<[string, string]> = [
    ['a=1&b=2', 'a=1&b=2'],
    ['apikey=S&a=1', 'apikey=[redacted]&a=1'],
    ['a=1&APIKEY=S&ApiKey=S', 'a=1&APIKEY=[redacted]&ApiKey=[redacted]'],
    ['api%6Bey=S&%61pikey=S&api%6bey=S', 'api%6Bey=[redacted]&%61pikey=[redacted]&api%6bey=[redacted]'],
    ['token=S&TOKEN=S&x%2Dapi%2Dkey=S&access_token=S', 'token=[redacted]&TOKEN=[redacted]&x%2Dapi%2Dkey=[redacted]&access_token=[redacted]'],
    ['apikey2=a&my-apikey=b&apikey&apikey=', 'apikey2=a&my-apikey=b&apikey&apikey=[redacted]'],
    ['apikey=S=T&a=%ZZ', 'apikey=[redacted]&a=%ZZ'],
    ['a=b+c&api%ZZkey=S', 'a=b+c&api%ZZkey=S'],
  ];
  for (const [query, want] of cases) assert.equal(rq(query), want, query);
  assert.equal(rq(undefined), undefined);
});

/** The request data the serializers read, as plain values (what a RequestContext holds once the request ended). */
function endedRequest(n: number, text: (k: number) => string): RequestContext {
  const route = { name: 'r"oute\u2028', service: { name: 'svc', upstream: { name: 'up' } } };
  const referer = `http://r.example/?code=1&a=${text(n + 1)}`;
  const tenant = text(n + 2);
  return {
    id: text(n), traceId: n % 3 === 0 ? '0af7651916cd43dd8448eb211c80319c' : '', traceparent: undefined, clientIp: '127.0.0.1', peerAddress: '::1',
    listener: { protocol: 'http' }, req: { httpVersion: '1.1' }, method: text(n + 3), host: text(n + 4), path: text(n + 5), query: n % 2 === 0 ? '' : `?apikey=s&x=${text(n + 6)}`,
    res: { headersSent: n % 5 !== 0 }, responseStatus: 200 + n, bytesIn: n, bytesOut: 11, finishedAt: 1000.123456 + n, startedAt: 999.9, upstreamMs: n % 4 === 0 ? 0 : 0.1234,
    attempt: n % 4, upstreamRespondedAt: 1000.1, upstreamStartedAt: n % 3 === 0 ? 0 : 1000, route: n % 6 === 0 ? null : route, backend: null, target: n % 2 === 0 ? { url: 'http://t:1' } : null,
    consumer: n % 2 === 0 ? { username: 'alice' } : null, credential: n % 4 === 0 ? { id: 'k1' } : null, userAgent: text(n + 7), errorCode: n % 7 === 0 ? 'upstream-timeout' : null,
    header: (h: string) => (h === 'referer' ? referer : h === 'x-tenant' ? tenant : undefined),
    responseHeaders: new Map([['set-cookie', 'a=1'], ['x-b', text(n + 8)]]),
  } as unknown as RequestContext;
}

test('a record made from the access line is the record made field by field, byte for byte, for any two field lists and hostile values', () => {
  // Values that spell keys and boundaries of the line, escapes, non-Latin-1 text, bytes that are not UTF-8, a value beyond the logged length.
  const texts = ['/', '/a"b', '/x\\y,"path":', ',"status":1', 'é€', '\u0001\u2028', '\u00ff\u00fe\u00c3 ', 'x'.repeat(3000), '', '},{"time":"'];
  const text = (k: number): string => texts[k % texts.length]!;
  const all = [...ACCESS_LOG_FIELDS, 'req.h.x-tenant', 'req.h.authorization', 'req.h.referer', 'res.h.x-b', 'res.h.set-cookie'];
  let seed = 7;
  const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const pick = (): string[] => {
    const list = [...all];
    for (let i = list.length - 1; i > 0; i--) {
      const j = next(i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    return list.slice(0, 1 + next(list.length));
  };
  const pairs: Array<[readonly string[], readonly string[]]> = [[DEFAULT_ACCESS_LOG_FIELDS, DEFAULT_SINK_FIELDS], [DEFAULT_ACCESS_LOG_FIELDS, DEFAULT_ACCESS_LOG_FIELDS], [['status'], ['time', 'status', 'path']]];
  for (let i = 0; i < 150; i++) pairs.push([pick(), pick()]);
  const redaction = redactionFor(['X-Tenant']);
  const time = '2026-12-06T15:00:00.123Z';
  for (const [lineFields, fields] of pairs) {
    const line = compileAccessLine(lineFields, redaction);
    const record = compileAccessLine(fields, redaction, true);
    const fromLine = compileRecordFromLine(fields, lineFields, redaction);
    for (let n = 0; n < 24; n++) {
      const ctx = endedRequest(n, text);
      const want = record(ctx, time, 42);
      assert.equal(fromLine(ctx, time, 42, line(ctx, time, 42)), want, `line ${lineFields.join(',')} → record ${fields.join(',')}, request ${n}`);
      JSON.parse(want);
    }
  }
  // The same fields: the line without its envelope and newline.
  const ctx = endedRequest(1, text);
  const line = compileAccessLine(DEFAULT_ACCESS_LOG_FIELDS, redaction)(ctx, time, 42);
  assert.equal(compileRecordFromLine(DEFAULT_ACCESS_LOG_FIELDS, DEFAULT_ACCESS_LOG_FIELDS, redaction)(ctx, time, 42, line), `{${line.slice('{"level":"info","type":"access",'.length, -1)}`);
});
