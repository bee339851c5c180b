// Credentials never reach the access log: the fields that name a credential header are
// [redacted], and the values of key query parameters are redacted in `query` and `referer`,
// whatever the spelling (letter case, percent-encoded names), in a real access-log file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http, startCli, startUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const KEY = 'dora-secret-key-0123456789';
const FIELDS = ['request_id', 'query', 'referer', 'req.h.authorization', 'req.h.proxy-authorization', 'req.h.cookie', 'req.h.x-api-key', 'req.h.apikey', 'req.h.token', 'req.h.x-secret', 'req.h.x-other', 'req.h.referer', 'res.h.set-cookie', 'res.h.x-up'];

describe('access log redaction', () => {
  let up: Upstream;
  let gw: CliGateway;
  const log = join(tempDir(), 'access.log');
  before(async () => {
    up = await startUpstream((_q, r) => r.writeHead(200, { 'set-cookie': 'sid=SECRET-SET-COOKIE; HttpOnly', 'x-up': 'visible-up' }).end('ok'));
    gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { path: "${log}", fields: ${JSON.stringify(FIELDS)} }
consumers:
  - username: dora
    credentials:
      key-auth: [{ key: "${KEY}" }]
services:
  - name: s
    url: "${up.url}"
    routes:
      - { paths: ["/keyed"], plugins: { key-auth: { key_names: [token, X-Secret], hide_credentials: false } } }
      - { paths: ["/open"] }
`)]);
  });
  after(async () => {
    await gw?.stop();
    await up.close();
  });

  test('attack: credentials in headers, query and referer, several spellings: none in the log', async () => {
    const secrets = Array.from({ length: 20 }, (_, i) => `SECRET-${i}-x`);
    const requests: Array<{ path: string; headers: Record<string, string> }> = [
      { path: `/keyed?token=${KEY}&a=1`, headers: {} },
      { path: '/keyed', headers: { TOKEN: KEY, 'x-other': 'visible-header' } },
      { path: '/keyed', headers: { 'X-SECRET': KEY } },
      {
        path: `/open?a=1&apikey=${secrets[0]}&APIKEY=${secrets[1]}&api%6Bey=${secrets[2]}&Api%4BEY=${secrets[3]}&token=${secrets[4]}&x-secret=${secrets[5]}&X%2DSecret=${secrets[6]}&access_token=${secrets[7]}&x-api-key=${secrets[8]}&b=2&apikey2=visible-param`,
        headers: {},
      },
      {
        path: '/open',
        headers: {
          authorization: `Basic ${secrets[9]}`,
          'Proxy-Authorization': `Bearer ${secrets[10]}`,
          cookie: `sid=${secrets[11]}`,
          'X-Api-Key': secrets[12]!,
          apikey: secrets[13]!,
          token: secrets[14]!,
          'x-secret': secrets[15]!,
          referer: `https://app.example/page?apikey=${secrets[16]}&x=1&access_token=${secrets[17]}`,
          'x-other': 'visible-header',
        },
      },
    ];
    const ids: string[] = [];
    for (const r of requests) {
      const res = await http(gw.url + r.path, { headers: r.headers });
      assert.equal(res.status, 200, r.path);
      ids.push(res.headers['x-request-id'] as string);
    }
    await gw.stop();
    const text = readFileSync(log, 'utf8');
    for (const secret of [KEY, ...secrets, 'SECRET-SET-COOKIE']) assert.ok(!text.includes(secret), `"${secret}" is in the access log:\n${text}`);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = (i: number) => lines.find((l) => l['request_id'] === ids[i])!;
    assert.equal(line(0)['query'], 'token=[redacted]&a=1');
    assert.equal(line(1)['req.h.token'], '[redacted]');
    assert.equal(line(1)['req.h.x-other'], 'visible-header', 'other headers are logged');
    assert.equal(line(1)['req.h.authorization'], null, 'an absent header is null');
    assert.equal(line(2)['req.h.x-secret'], '[redacted]');
    assert.equal(
      line(3)['query'],
      'a=1&apikey=[redacted]&APIKEY=[redacted]&api%6Bey=[redacted]&Api%4BEY=[redacted]&token=[redacted]&x-secret=[redacted]&X%2DSecret=[redacted]&access_token=[redacted]&x-api-key=[redacted]&b=2&apikey2=visible-param',
    );
    const l4 = line(4);
    for (const f of ['req.h.authorization', 'req.h.proxy-authorization', 'req.h.cookie', 'req.h.x-api-key', 'req.h.apikey', 'req.h.token', 'req.h.x-secret', 'res.h.set-cookie']) assert.equal(l4[f], '[redacted]', f);
    assert.equal(l4['referer'], 'https://app.example/page?apikey=[redacted]&x=1&access_token=[redacted]');
    assert.equal(l4['req.h.referer'], l4['referer']);
    assert.equal(l4['res.h.x-up'], 'visible-up');
  });
});
