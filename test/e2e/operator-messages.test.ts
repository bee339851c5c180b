// What an operator reads: the start-up summary (https:// for TLS listeners, the portal's URL),
// warnings for settings that do nothing, `validate` finding ./northgate.yaml like `start`,
// `config diff` naming the changed fields, and status codes written as YAML numbers.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertDir } from '../helpers/certs.js';
import { killCli } from '../helpers/load.js';
import { http, runCli, startCli, startGateway, startUpstream, tempDir, writeConfig } from '../helpers/servers.js';

test('the start-up summary announces TLS listeners as https:// and the portal with its URL', async () => {
  const certs = new CertDir().ca('ca').leaf('gw', 'localhost', 'ca', 'DNS:localhost');
  const dir = tempDir();
  const file = writeConfig(`_format_version: "1"
listen:
  proxy: ["127.0.0.1:0", { address: "127.0.0.1:0", tls: { certificates: [{ cert: "${certs.path('gw.crt')}", key: "${certs.path('gw.key')}" }] } }]
  status: null
  admin: null
  portal: "127.0.0.1:0"
portal: { store: "${join(dir, 'portal.db')}" }
services:
  - name: api
    url: "http://127.0.0.1:9"
    routes: [{ name: api, paths: ["/"] }]
`);
  const gw = await startCli(['--config', file]);
  try {
    const start = gw.lines.find((l) => l['type'] === 'start')!;
    const proxy = start['proxy'] as string[];
    assert.match(proxy[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(proxy[1]!, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(String(start['portal']), /^http:\/\/127\.0\.0\.1:\d+$/);
    const stderr = gw.stderr();
    assert.ok(stderr.includes(`proxy listening on ${proxy.join(', ')}`), stderr);
    assert.ok(stderr.includes(`developer portal on ${String(start['portal'])}`), stderr);
    const page = await http(String(start['portal']) + '/');
    assert.equal(page.status, 200, 'the announced portal URL answers');
  } finally {
    await killCli(gw);
  }
});

test('a service published in the portal without a portal: section logs a warning at start', async () => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: null }
services:
  - name: orders
    url: "http://127.0.0.1:9"
    routes: [{ name: orders, paths: ["/orders"] }]
    portal: { published: true }
`);
  const gw = await startCli(['--config', file]);
  try {
    const warning = await gw.waitFor((l) => l['type'] === 'config' && l['level'] === 'warn');
    assert.match(String(warning['msg']), /services orders have portal\.published: true but the config has no portal: section/);
  } finally {
    await killCli(gw);
  }
});

test('validate reads ./northgate.yaml when no --config is given, as start does', async () => {
  const dir = tempDir();
  const here = await runCli(['validate'], { cwd: dir });
  assert.equal(here.code, 2);
  assert.match(here.stderr, /no northgate\.yaml .* give --config FILE/);
  writeFileSync(join(dir, 'northgate.yaml'), `_format_version: "1"\nservices: [{ name: a, url: "http://127.0.0.1:9", routes: [{ paths: ["/"] }] }]\n`);
  const found = await runCli(['validate'], { cwd: dir });
  assert.equal(found.code, 0, found.stderr + found.stdout);
  assert.equal(found.stdout, 'valid\n');
});

test('config diff names the fields that changed, with old and new values (credentials without values)', async () => {
  const db = `sqlite:${join(tempDir(), 'store.db')}`;
  const before = writeConfig(`_format_version: "1"
services:
  - name: api
    url: "http://127.0.0.1:9001"
    routes: [{ name: api, paths: ["/api"] }]
consumers:
  - username: alice
    credentials: { key-auth: [{ key: "alice-key-0123456789" }] }
`);
  assert.equal((await runCli(['config', 'apply', '-c', before, '--store', db])).code, 0);
  const after = writeConfig(`_format_version: "1"
services:
  - name: api
    url: "http://127.0.0.1:9002"
    routes: [{ name: api, paths: ["/api"], strip_path: true }]
consumers:
  - username: alice
    credentials: { key-auth: [{ key: "alice-key-9876543210" }] }
`);
  const diff = await runCli(['config', 'diff', '-c', after, '--store', db]);
  assert.equal(diff.code, 1, diff.stderr);
  const out = diff.stdout;
  assert.match(out, /~ services\/api\n {4}url: "http:\/\/127\.0\.0\.1:9001" -> "http:\/\/127\.0\.0\.1:9002"\n/);
  assert.match(out, /~ routes\/api\n {4}strip_path: \(absent\) -> true\n/);
  assert.doesNotMatch(out, /alice-key|sha256:/, 'no key or digest is printed');
});

test('retries.on takes response statuses as YAML numbers or text: [502, 503] validates and retries a 502', async () => {
  let calls = 0;
  const upstream = await startUpstream((_req, res) => {
    calls++;
    res.writeHead(calls === 1 ? 502 : 200, { 'content-type': 'text/plain' });
    res.end(calls === 1 ? 'bad gateway' : 'ok');
  });
  const yaml = `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: null }
services:
  - name: api
    url: "${upstream.url}"
    retries: { attempts: 2, on: [502, 503] }
    routes: [{ name: api, paths: ["/"] }]
`;
  const v = await runCli(['validate', '--config', writeConfig(yaml)]);
  assert.equal(v.stdout, 'valid\n', v.stdout);
  const statuses = await runCli(['validate', '--config', writeConfig(yaml.replace('[502, 503]', '[500, "429"]'))]);
  assert.equal(statuses.stdout, 'valid\n', 'any response status 400-599, as a number or as text');
  for (const wrong of ['[600]', '[302]', '["5xx"]', '[resets]']) {
    const bad = await runCli(['validate', '--config', writeConfig(yaml.replace('[502, 503]', wrong))]);
    assert.match(bad.stdout, /retries\.on\[0\]: must be connect-failure, reset, timeout or a response status 400–599\n$/, `${wrong}: ${bad.stdout}`);
  }
  const gw = await startGateway(yaml);
  try {
    const res = await http(`${gw.url}/x`);
    assert.equal(res.status, 200);
    assert.equal(calls, 2, 'the 502 was retried');
  } finally {
    await gw.close();
    await upstream.close();
  }
});
