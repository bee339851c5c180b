// The log_sinks section's config errors, each located (FILE:LINE:COL path: message): keys of
// another sink type, missing url/address, unknown names from services and routes, unknown
// fields, credentials in a URL, TLS where it cannot apply, impossible back-off and queue
// sizes; and the routes each sink gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigText } from '../../src/compiler/load.js';
import { compileLogShipping } from '../../src/observability/log-sink-config.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { configProblems } from '../helpers/config.js';

const withSinks = (sinks: string, services = ''): string => `_format_version: "1"
log_sinks:
${sinks}
services:
  - name: s
    url: "http://127.0.0.1:1"
${services || '    routes: [{ name: r, paths: ["/"] }]'}
`;

test('each problem is located and says what to do', () => {
  const problems = configProblems(
    withSinks(
      `  - { name: a, type: http }
  - { name: b, type: statsd, address: "127.0.0.1:8125", url: "http://x/" }
  - { name: c, type: syslog, address: "nowhere" }
  - { name: d, type: http, url: "http://user:pw@collector.example/", fields: [status, bogus] }
  - { name: e, type: http, url: "http://collector.example/", tls: { verify: false } }
  - { name: f, type: syslog, address: "127.0.0.1:514", transport: tcp, tls: { verify: false } }
  - { name: g, type: http, url: "http://x/", retry: { base_delay: 1m, max_delay: 1s }, batch: { max_events: 500 }, queue: { max_events: 100 } }
  - { name: g, type: statsd, address: "127.0.0.1:0" }
  - { name: h, type: http, url: "http://x/", retry: { base_delay: 0ms } }`,
      `    log_sinks: [a, nope]
    routes: [{ name: r, paths: ["/"], log_sinks: [hh] }]`,
    ),
    'c.yaml',
  );
  const expect = [
    /^c\.yaml:3:5 log_sinks\[0\]: an http sink needs "url"$/,
    /^c\.yaml:4:\d+ log_sinks\[1\]\.url: not a key of a statsd sink; it takes address, prefix, tags/,
    /^c\.yaml:5:\d+ log_sinks\[2\]\.address: must be host:port/,
    /^c\.yaml:6:\d+ log_sinks\[3\]\.url: credentials go in "headers"/,
    /^c\.yaml:6:\d+ log_sinks\[3\]\.fields\[1\]: unknown field "bogus"/,
    /^c\.yaml:7:\d+ log_sinks\[4\]\.tls: applies to https:\/\/ URLs only$/,
    /^c\.yaml:8:\d+ log_sinks\[5\]\.tls: applies to transport: tls only$/,
    /^c\.yaml:9:\d+ log_sinks\[6\]\.retry\.base_delay: is longer than max_delay/,
    /^c\.yaml:9:\d+ log_sinks\[6\]\.queue\.max_events: is smaller than batch\.max_events$/,
    /^c\.yaml:10:\d+ log_sinks\[7\]\.name: duplicate log sink name "g"/,
    /^c\.yaml:10:\d+ log_sinks\[7\]\.address: needs a port other than 0$/,
    /^c\.yaml:11:\d+ log_sinks\[8\]\.retry\.base_delay: must be longer than 0/,
    /^c\.yaml:15:\d+ services\[0\]\.log_sinks\[1\]: no log sink named "nope"$/,
    /^c\.yaml:16:\d+ services\[0\]\.routes\[0\]\.log_sinks\[0\]: no log sink named "hh" \(did you mean "h"\?\)$/,
  ];
  for (const re of expect) assert.ok(problems.some((p) => re.test(p)), `${re}\n${problems.join('\n')}`);
  assert.equal(problems.length, expect.length, problems.join('\n'));
});

test('schema: unknown type, bad format and out-of-range sizes', () => {
  const problems = configProblems(withSinks(`  - { name: a, type: kafka }
  - { name: b, type: http, url: "http://x/", format: xml, batch: { max_events: 0, max_bytes: 1000 } }
  - { name: c, type: http, url: "http://x/", batch: { max_bytes: 1.5e8 } }`), 'c.yaml');
  assert.ok(problems.some((p) => /log_sinks\[0\]\.type/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /log_sinks\[1\]\.format/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /log_sinks\[1\]\.batch\.max_events/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /log_sinks\[1\]\.batch\.max_bytes/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /log_sinks\[2\]\.batch\.max_bytes/.test(p)), problems.join('\n'));
});

test('batches: 1000 records or 512 KiB by default; a queue set below 1000 records makes the default batch its size', () => {
  const config = loadConfigText(
    'c.yaml',
    `_format_version: "1"
log_sinks:
  - { name: plain, type: http, url: "http://127.0.0.1:1/" }
  - { name: small, type: http, url: "http://127.0.0.1:1/", queue: { max_events: 200 } }
  - { name: set, type: syslog, address: "127.0.0.1:514", batch: { max_events: 20, max_bytes: 4096 }, queue: { max_events: 20 } }
`,
    defaultRegistry(),
  );
  const delivery = (name: string): { batchSize: number; maxBytes: number; maxQueue: number } => {
    const d = compileLogShipping(config, [])!.byName.get(name)!.delivery;
    return { batchSize: d.batchSize, maxBytes: d.maxBytes, maxQueue: d.maxQueue };
  };
  assert.deepEqual(delivery('plain'), { batchSize: 1000, maxBytes: 524_288, maxQueue: 10_000 });
  assert.deepEqual(delivery('small'), { batchSize: 200, maxBytes: 524_288, maxQueue: 200 });
  assert.deepEqual(delivery('set'), { batchSize: 20, maxBytes: 4096, maxQueue: 20 });
});

test('routes get the global sinks, their service\'s and their own; unmatched requests the global ones', () => {
  const config = loadConfigText(
    'c.yaml',
    `_format_version: "1"
log_sinks:
  - { name: all, type: http, url: "http://127.0.0.1:1/" }
  - { name: billing, type: http, url: "http://127.0.0.1:1/", global: false }
  - { name: audit, type: statsd, address: "127.0.0.1:8125", global: false }
services:
  - name: a
    url: "http://127.0.0.1:1"
    log_sinks: [billing]
    routes: [{ name: a1, paths: ["/a1"] }, { name: a2, paths: ["/a2"], log_sinks: [audit, billing] }]
  - name: b
    url: "http://127.0.0.1:1"
    routes: [{ name: b1, paths: ["/b1"] }]
`,
    defaultRegistry(),
  );
  const spec = compileLogShipping(config, [])!;
  assert.deepEqual(spec.byRoute, [['all', 'billing'], ['all', 'billing', 'audit'], ['all']]);
  assert.deepEqual(spec.unmatched, ['all']);
  assert.equal(compileLogShipping({ _format_version: '1' }, []), null);
});
