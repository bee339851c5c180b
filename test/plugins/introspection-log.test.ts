// The real gateway process with introspection, its access log logging the Authorization
// header, and debug logging on: neither the tokens nor the client secret appear anywhere in
// what it writes — for active and inactive tokens, and when the endpoint fails (the process
// log then says why, without the token).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startIntrospectionServer, type IntrospectionServer } from '../helpers/introspection-server.js';
import { http, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const SECRET = 'client-secret-Zq81';
const TOKENS = { active: 'opaque-active-Kx93', inactive: 'opaque-inactive-Pw27', failing: 'opaque-failing-Hm55' };

let as: IntrospectionServer;
let up: Upstream;
let gw: CliGateway;
before(async () => {
  as = await startIntrospectionServer({ clientSecret: SECRET });
  as.tokens.set(TOKENS.active, { active: true, sub: 'alice', scope: 'read' });
  up = await startEchoUpstream();
  gw = await startCli(
    ['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log:
  fields: [request_id, method, path, query, status, req.h.authorization, error]
services:
  - name: s
    url: "${up.url}"
    routes:
      - paths: ["/"]
        plugins:
          introspection: { endpoint: "${as.url}", client_id: gateway, client_secret: "\${CLIENT_SECRET}", client_auth: client_secret_post }
`)],
    { CLIENT_SECRET: SECRET, NORTHGATE_LOG_LEVEL: 'debug' },
  );
});
after(async () => {
  await gw?.stop();
  await up?.close();
  await as?.close();
});

test('tokens and the client secret are never written, whatever the outcome', async () => {
  assert.equal((await http(`${gw.url}/a`, { headers: { authorization: `Bearer ${TOKENS.active}` } })).status, 200);
  assert.equal((await http(`${gw.url}/a?access_token=${TOKENS.active}`, { headers: { authorization: `Bearer ${TOKENS.active}` } })).status, 200);
  assert.equal((await http(`${gw.url}/b`, { headers: { authorization: `Bearer ${TOKENS.inactive}` } })).status, 401);
  as.mode = 'status-500';
  assert.equal((await http(`${gw.url}/c`, { headers: { authorization: `Bearer ${TOKENS.failing}` } })).status, 503);
  await gw.waitFor((l) => l['type'] === 'remote_fetch');
  await gw.stop();
  const written = JSON.stringify(gw.lines) + gw.stderr();
  assert.ok(gw.lines.some((l) => l['status'] === 503), 'the access log was captured');
  for (const secret of [...Object.values(TOKENS), SECRET]) assert.ok(!written.includes(secret), `"${secret}" was written:\n${written}`);
});
