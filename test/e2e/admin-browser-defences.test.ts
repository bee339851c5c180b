// A web page the operator visits cannot drive the admin API (loopback, no token: the
// default) nor the status listener's cache purge: DNS-rebinding Host names, cross-site
// Origin / Sec-Fetch-Site on writes, and bodies a page can send without a CORS preflight
// (text/plain, forms) are refused before anything changes. A real gateway (the CLI) with a
// SQLite store; every attack is followed by a read proving nothing moved.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminUrlOf } from '../helpers/admin.js';
import { http, runCli, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway, type HttpResult, type Upstream } from '../helpers/servers.js';

let upstream: Upstream;
let gw: CliGateway;
let admin: string;
let adminPort: number;

before(async () => {
  upstream = await startEchoUpstream();
  const store = `sqlite:${join(tempDir('northgate-browser-'), 'northgate.db')}`;
  gw = await startCli(['-c', writeConfig(`_format_version: "1"
mode: database
store: { url: "${store}", poll_interval: 5s }
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0", admin: "127.0.0.1:0" }
access_log: { enabled: false }
`)]);
  admin = adminUrlOf(gw);
  adminPort = Number(new URL(admin).port);
  const r = await send('POST', '/services', JSON.stringify({ name: 'orders', url: upstream.url }));
  assert.equal(r.status, 201, r.body);
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
});

/** A request to the admin listener with exactly these headers (Host defaults to 127.0.0.1:PORT). */
function send(method: string, path: string, body?: string, headers: Record<string, string> = {}, port = adminPort): Promise<HttpResult> {
  const h: Record<string, string> = { host: `127.0.0.1:${port}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers };
  for (const [k, v] of Object.entries(h)) if (v === '') delete h[k];
  return http(`http://127.0.0.1:${port}`, { method, path, headers: h, setHost: false, ...(body !== undefined ? { body } : {}) });
}

function assertProblem(r: HttpResult, status: number, code: string, what: string): void {
  assert.equal(r.status, status, `${what}: ${r.body}`);
  assert.equal(r.headers['content-type'], 'application/problem+json', what);
  assert.equal(JSON.parse(r.body).type, `urn:northgate:problem:${code}`, what);
}

const serviceNames = async (): Promise<string[]> => JSON.parse((await send('GET', '/services')).body).data.map((s: { name: string }) => s.name).sort();

const WIPE = `_format_version: "1"\nservices:\n  - name: pwned\n    url: http://evil.example\n    routes: [{ paths: ["/"] }]\n`;

test('DNS rebinding: a Host that is not loopback is refused for reads and writes, before the token', async () => {
  const spellings = ['evil.example', `evil.example:${adminPort}`, 'localhost.evil.example', `127.0.0.1.nip.io:${adminPort}`, 'sub.localhost', '127.1', '0x7f.0.0.1', '2130706433', '10.0.0.5', 'localhost..', 'EVIL.example.'];
  for (const host of spellings) {
    assertProblem(await send('GET', '/services', undefined, { host }), 403, 'host-not-allowed', `GET Host: ${host}`);
    assertProblem(await send('GET', '/consumers', undefined, { host }), 403, 'host-not-allowed', `GET Host: ${host}`);
    assertProblem(await send('POST', '/services', JSON.stringify({ name: 'rebound', url: upstream.url }), { host }), 403, 'host-not-allowed', `POST Host: ${host}`);
    assertProblem(await send('POST', '/config', WIPE, { host, 'content-type': 'application/yaml' }), 403, 'host-not-allowed', `POST /config Host: ${host}`);
  }
  assert.deepEqual(await serviceNames(), ['orders']);
  for (const host of ['localhost', `localhost:${adminPort}`, `LOCALHOST.:${adminPort}`, '127.0.0.1', `127.0.0.9:${adminPort}`, `[::1]:${adminPort}`]) {
    assert.equal((await send('GET', '/services', undefined, { host })).status, 200, host);
  }
});

test('cross-site writes: another Origin, Origin: null, Sec-Fetch-Site cross-site/same-site are refused; nothing changes', async () => {
  const origins = ['https://evil.example', 'null', `http://localhost:${adminPort + 1}`, 'http://localhost:3000', `http://evil.example:${adminPort}`, `http://127.0.0.1:${adminPort}.evil.example`];
  const attempts: Array<[string, string, string | undefined]> = [
    ['POST', '/services', JSON.stringify({ name: 'csrf', url: upstream.url })],
    ['PATCH', '/services/orders', JSON.stringify({ url: 'http://evil.example' })],
    ['PUT', '/services/orders', JSON.stringify({ name: 'orders', url: 'http://evil.example' })],
    ['DELETE', '/services/orders?cascade=true', undefined],
    ['POST', '/config', JSON.stringify({ _format_version: '1' })],
    ['POST', '/cache/purge', JSON.stringify({ tags: ['t'] })],
  ];
  for (const [method, path, body] of attempts) {
    for (const origin of origins) assertProblem(await send(method, path, body, { origin }), 403, 'cross-site-request', `${method} ${path} Origin: ${origin}`);
    for (const site of ['cross-site', 'same-site']) assertProblem(await send(method, path, body, { 'sec-fetch-site': site }), 403, 'cross-site-request', `${method} ${path} Sec-Fetch-Site: ${site}`);
  }
  const svc = JSON.parse((await send('GET', '/services/orders')).body);
  assert.equal(svc.url, upstream.url);
  assert.equal(svc.version, 1);
  assert.deepEqual(await serviceNames(), ['orders']);
  // The same write from a tool (no Origin) or from the API's own origin passes.
  assert.equal((await send('PATCH', '/services/orders', JSON.stringify({ retries: { attempts: 2 } }), { origin: `http://127.0.0.1:${adminPort}`, 'sec-fetch-site': 'same-origin' })).status, 200);
});

test('bodies a page can send without a preflight are 415: text/plain POST /config, forms, no type; the config is untouched', async () => {
  const types = ['text/plain', 'text/plain;charset=UTF-8', 'text/plain; application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----x', ''];
  for (const type of types) {
    assertProblem(await send('POST', '/config', WIPE, { 'content-type': type }), 415, 'unsupported-media-type', `POST /config Content-Type: ${type}`);
    assertProblem(await send('POST', '/config', JSON.stringify({ _format_version: '1' }), { 'content-type': type }), 415, 'unsupported-media-type', `POST /config (JSON text) Content-Type: ${type}`);
    assertProblem(await send('POST', '/services', JSON.stringify({ name: 'form', url: upstream.url }), { 'content-type': type }), 415, 'unsupported-media-type', `POST /services Content-Type: ${type}`);
    assertProblem(await send('PATCH', '/services/orders', JSON.stringify({ url: 'http://evil.example' }), { 'content-type': type }), 415, 'unsupported-media-type', `PATCH Content-Type: ${type}`);
  }
  assertProblem(await send('POST', '/services', 'name=form&url=http://evil.example', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported-media-type', 'a real form body');
  assertProblem(await send('POST', '/services', JSON.stringify({ name: 'latin', url: upstream.url }), { 'content-type': 'application/json; charset=iso-8859-1' }), 415, 'unsupported-media-type', 'charset');
  assert.deepEqual(await serviceNames(), ['orders']);
  assert.equal(JSON.parse((await send('GET', '/services/orders')).body).url, upstream.url);

  // What tools send passes: JSON with a charset, YAML for /config, a merge patch, a bodiless DELETE.
  assert.equal((await send('POST', '/services', JSON.stringify({ name: 'tool', url: upstream.url }), { 'content-type': 'Application/JSON; charset=utf-8' })).status, 201);
  assert.equal((await send('PATCH', '/services/tool', JSON.stringify({ retries: null }), { 'content-type': 'application/merge-patch+json' })).status, 200);
  assert.equal((await send('DELETE', '/services/tool')).status, 204);
  const dry = await send('POST', '/config?dry_run=true', `_format_version: "1"\nservices: [{ name: orders, url: "${upstream.url}" }]\n`, { 'content-type': 'application/yaml' });
  assert.equal(dry.status, 200, dry.body);
});

test("the status listener's POST /cache/purge: the same Host, Origin and media-type checks", async () => {
  const port = gw.statusPort!;
  const purge = (headers: Record<string, string>, body = JSON.stringify({ tags: ['t'] })) => send('POST', '/cache/purge', body, headers, port);
  for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', '127.1']) assertProblem(await purge({ host }), 403, 'host-not-allowed', `Host: ${host}`);
  for (const origin of ['https://evil.example', 'null', 'http://localhost:3000']) assertProblem(await purge({ origin }), 403, 'cross-site-request', `Origin: ${origin}`);
  assertProblem(await purge({ 'sec-fetch-site': 'cross-site' }), 403, 'cross-site-request', 'Sec-Fetch-Site');
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) assertProblem(await purge({ 'content-type': type }), 415, 'unsupported-media-type', `Content-Type: ${type}`);
  const ok = await purge({ host: `localhost:${port}` });
  assert.equal(ok.status, 200, ok.body);
  assert.deepEqual(JSON.parse(ok.body), { purged: 0 });
  assert.equal((await send('GET', '/healthz', undefined, { host: 'evil.example' }, port)).status, 200, 'probes are not purges: any Host');
});

test('beyond loopback (with a token): IP addresses and admin.allowed_hosts pass, other names do not; bad entries are config errors', async () => {
  const token = 'browser-test-token-0123456789';
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "0.0.0.0:0" }
admin: { token: "${token}", allowed_hosts: ["admin.internal", "*.gw.example"] }
access_log: { enabled: false }
`);
  const wide = await startCli(['-c', file]);
  try {
    const port = Number(new URL(adminUrlOf(wide)).port);
    const get = (host: string) => send('GET', '/status', undefined, { host, authorization: `Bearer ${token}` }, port);
    for (const host of ['admin.internal', `Admin.Internal:${port}`, 'n1.gw.example', '192.0.2.10', `[2001:db8::1]:${port}`, 'localhost']) assert.equal((await get(host)).status, 200, host);
    for (const host of ['evil.example', 'gw.example', 'admin.internal.evil.example', 'evilgw.example']) assertProblem(await get(host), 403, 'host-not-allowed', host);
    assertProblem(await send('GET', '/status', undefined, { host: 'evil.example' }, port), 403, 'host-not-allowed', 'checked before the token: a page learns nothing');
  } finally {
    await wide.stop();
  }
  const bad = writeConfig(`_format_version: "1"
admin:
  allowed_hosts: ["ok.example", "http://admin.example:8001"]
`);
  const r = await runCli(['validate', '-c', bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr + r.stdout, /:3:33 admin\.allowed_hosts\[1\]: "http:\/\/admin\.example:8001" is not a host name/);
});
