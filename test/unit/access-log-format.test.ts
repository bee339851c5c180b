// The access-log field list: what the config accepts and refuses (located, with hints).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCESS_LOG_FIELDS, compileAccessLog, ms, queryRedactor, redactionFor } from '../../src/observability/access-log-format.js';
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
