// The portal's OpenID provider answers are bounded: a hostile provider (a real node:http
// server on 127.0.0.1) with an endless, huge, redirecting, silent or non-JSON discovery
// document gets a 503 auth-unavailable at sign-in, in bounded time, with the reason reported.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { PROVIDER_MAX_BYTES, PROVIDER_TIMEOUT_MS } from '../../src/portal/oidc.js';
import { type RemoteFetchFailure } from '../../src/base/remote-document.js';
import { remoteFetchFailedChannel } from '../../src/base/events.js';
import { startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';
import { http } from '../helpers/servers.js';

const MiB = 1024 * 1024;
let provider: Server;
let issuer = '';
let gw: PortalGatewayHandle;
let mode = 'endless';
let sent = 0;
const failures: RemoteFetchFailure[] = [];
const onFailure = (m: unknown) => failures.push(m as RemoteFetchFailure);

before(async () => {
  const chunk = Buffer.alloc(64 * 1024, ' ');
  provider = createServer(async (req, res) => {
    if (mode === 'silent') return; // never answers; closed with the server
    if (mode === 'loop') return void res.writeHead(307, { location: req.url! }).end();
    if (mode === 'html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
    res.writeHead(200, { 'content-type': 'application/json', ...(mode === 'declared' ? { 'content-length': String(100 * MiB) } : {}) });
    res.write(`{"issuer":"${issuer}","x":"`);
    sent = 0;
    const closed = new Promise((r) => res.once('close', r));
    // Bounded: 256 MiB at most, or until the gateway hangs up.
    while (sent < 256 * MiB && !res.destroyed) {
      if (!res.write(chunk)) await Promise.race([new Promise((r) => res.once('drain', r)), closed]);
      sent += chunk.length;
    }
    res.end();
  });
  provider.listen(0, '127.0.0.1');
  await once(provider, 'listening');
  issuer = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  gw = await startPortalGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
portal:
  title: OIDC portal
  oidc: { issuer: "${issuer}", client_id: portal, client_secret: portal-secret-portal-secret, scopes: [openid, email] }
`);
  subscribe(remoteFetchFailedChannel.name, onFailure);
});

after(async () => {
  unsubscribe(remoteFetchFailedChannel.name, onFailure);
  await gw?.close();
  provider?.closeAllConnections();
  provider?.close();
});

test('attack: a hostile OpenID provider: sign-in answers 503 auth-unavailable in bounded time; the reason is reported', async () => {
  const cases: Array<[string, RegExp]> = [
    ['endless', new RegExp(`larger than ${PROVIDER_MAX_BYTES} bytes`)],
    ['declared', new RegExp(`larger than ${PROVIDER_MAX_BYTES} bytes \\(Content-Length`)],
    ['loop', /answered 307 \(redirects are not followed/],
    ['silent', new RegExp(`no complete answer within ${PROVIDER_TIMEOUT_MS} ms`)],
  ];
  for (const [m, reason] of cases) {
    mode = m;
    const before = failures.length;
    const started = Date.now();
    const res = await http(gw.portalUrl + '/portal/api/oidc/start');
    assert.ok(Date.now() - started < PROVIDER_TIMEOUT_MS + 10_000, `${m}: answered in bounded time`);
    assert.equal(res.status, 503, `${m}: ${res.body}`);
    assert.match(res.body, /auth-unavailable/);
    const failure = failures.slice(before).find((f) => f.what === 'OpenID provider answer');
    assert.ok(failure !== undefined, `${m}: a failure is reported`);
    assert.match(failure.reason, reason, m);
    assert.equal(failure.url, `${issuer}/.well-known/openid-configuration`);
    if (m === 'endless' || m === 'declared') assert.ok(sent < 64 * MiB, `${m}: ${sent} bytes sent before the gateway hung up`);
  }
  mode = 'html';
  assert.equal((await http(gw.portalUrl + '/portal/api/oidc/start')).status, 503, 'a document that is not JSON');
});
