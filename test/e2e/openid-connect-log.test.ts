// Tokens never reach the logs: the gateway runs for real (the CLI, debug level, an access
// log that names the query, the credential headers and Set-Cookie), a user signs in, calls
// the API, the token is refreshed, the provider ends the session through the back channel,
// a provider answer fails; then no authorization code, access, refresh or ID token, logout
// token or session id appears in stdout, stderr or the access log file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLIENT_ID, CLIENT_SECRET, WebClient, startOidcProvider, type OidcProviderHandle } from '../helpers/oidc-provider.js';
import { runCli, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';
import { stablePort } from '../helpers/ports.js';

const FIELDS = ['request_id', 'method', 'path', 'query', 'status', 'referer', 'req.h.authorization', 'req.h.cookie', 'req.h.x-id-token', 'res.h.set-cookie'];
let op: OidcProviderHandle;
let upstream: Upstream;
let gw: CliGateway;
const log = join(tempDir(), 'access.log');


before(async () => {
  op = await startOidcProvider();
  upstream = await startEchoUpstream();
  const port = await stablePort();
  const url = `http://127.0.0.1:${port}`;
  await op.configure({ redirectUris: [`${url}/oidc/callback`], backchannelLogoutUri: `${url}/oidc/backchannel`, accessTokenTtl: 8 });
  gw = await startCli(['--config', writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: null }
access_log: { path: "${log}", fields: ${JSON.stringify(FIELDS)} }
services:
  - name: app
    url: ${upstream.url}
    routes: [{ name: app, paths: [/] }]
    plugins:
      openid-connect:
        issuer: "${op.issuer}"
        client_id: ${CLIENT_ID}
        client_secret: ${CLIENT_SECRET}
        redirect_uri: "${url}/oidc/callback"
        scopes: [openid, email, offline_access]
        refresh_before: 7s
        cookie: { secret: log-test-cookie-secret-0123456789-abcdef }
        logout_path: /oidc/logout
        backchannel_logout_path: /oidc/backchannel
        id_token_header: X-Id-Token
        forward_access_token: true
`)], { NORTHGATE_LOG_LEVEL: 'debug' });
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
  await op?.close();
});

test('no token, code or session id in any log output', async () => {
  const web = new WebClient();
  const callbackUrl = await web.callbackUrl(gw.url);
  const code = new URL(callbackUrl).searchParams.get('code')!;
  assert.equal((await web.request(callbackUrl)).status, 302);
  const session = web.cookies(gw.url).get('ng_oidc')!;
  const secrets = [code, session, session.split('.')[0]!];
  const seen = async () => {
    const r = await web.request(`${gw.url}/api/me?x=1`, { headers: { accept: 'application/json', referer: `${gw.url}/page` } });
    assert.equal(r.status, 200, r.body);
    const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    secrets.push(h['authorization']!.slice('Bearer '.length), h['x-id-token']!);
  };
  await seen();
  // Less than refresh_before (7 s) of the 8 s token is left after a second: the next call refreshes it.
  await new Promise((r) => setTimeout(r, 1200));
  await seen();
  assert.ok((op.grants['refresh_token'] ?? 0) >= 1, 'the token was refreshed');
  // A replayed callback and a bad logout token are refused (and logged as such, without their content).
  assert.equal((await web.request(callbackUrl)).status, 400);
  const bad = await op.logoutToken({ sub: 'alice', aud: 'another' });
  const logoutToken = await op.logoutToken({ sub: 'alice' });
  secrets.push(bad, logoutToken);
  for (const t of [bad, logoutToken]) await web.request(`${gw.url}/oidc/backchannel`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `logout_token=${t}` });
  assert.equal((await web.request(`${gw.url}/api/me`, { headers: { accept: 'application/json' } })).status, 401);
  // The logout URL carries the ID token as id_token_hint.
  await web.request(`${gw.url}/oidc/logout?id_token_hint=${secrets[3]}&code=${code}`);

  await gw.stop();
  const outputs = { stdout: JSON.stringify(gw.lines), stderr: gw.stderr(), accessLog: readFileSync(log, 'utf8') };
  assert.ok(outputs.accessLog.includes('/oidc/callback'), 'the access log has the requests');
  assert.ok(outputs.accessLog.includes('[redacted]'));
  for (const secret of secrets) {
    assert.ok(secret.length >= 20, 'a real secret');
    for (const [where, text] of Object.entries(outputs)) assert.equal(text.includes(secret), false, `a secret (${secret.slice(0, 8)}…) is in ${where}`);
  }
});

test('the memory store with --workers is refused at start: each worker would hold sessions of its own', { timeout: 60_000 }, async () => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: null }
services:
  - name: app
    url: ${upstream.url}
    routes: [{ name: app, paths: [/] }]
    plugins:
      openid-connect: { issuer: "${op.issuer}", client_id: ${CLIENT_ID}, redirect_uri: "http://127.0.0.1:1/cb", cookie: { secret: workers-cookie-secret-0123456789-abcdef } }
`);
  const r = await runCli(['start', '--config', file, '--workers', '2']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr + r.stdout, /session\.store "memory" keeps sessions in one process; with --workers use sqlite \(one node\), redis or postgres/);
});
