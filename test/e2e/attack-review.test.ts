// Bypasses found in review of the path, admin and cache defences (docs/security.md): each
// test is a spelling or exchange an outsider could send, with the answer the policy promises.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { startSpanCollector, type OtlpSpan } from '../helpers/otlp.js';
import { http, rawRequest, startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const KEY = 'review-test-key-0001';

async function send(port: number, target: string): Promise<{ status: number; url: string | null }> {
  const raw = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const url = /"url":"((?:[^"\\]|\\.)*)"/.exec(raw);
  return { status, url: url === null ? null : (JSON.parse(`"${url[1]}"`) as string) };
}

/**
 * A gateway in front of an echo upstream for the tests of one describe block: one service
 * with these route lines (YAML flow mappings), alice's key, and any extra top-level YAML.
 * Returns a getter (the gateway starts in `before`).
 */
function gatewayWith(routes: string[], extra: () => string = () => ''): () => InProcessGateway {
  let upstream: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    upstream = await startEchoUpstream();
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
${extra()}consumers:
  - username: alice
    credentials:
      key-auth: [{ key: "${KEY}" }]
services:
  - name: s
    url: "${upstream.url}"
    routes:
${routes.map((r) => `      - ${r}`).join('\n')}
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  return () => gw;
}

describe('letter case of non-ASCII characters (é/É) in routes', () => {
  const gateway = gatewayWith([
    '{ name: cafe, paths: ["/caf%C3%A9"], plugins: { key-auth: {} } }',
    '{ name: deja, paths: ["/d%C3%A9j%C3%A0"], case_insensitive: true, plugins: { key-auth: {} } }',
    '{ name: open, paths: ["/"] }',
  ]);

  test('a case-insensitive upstream reads /CAFÉ and /cafÉ as /café: refused, never sent to the open route', async () => {
    for (const target of ['/caf%C3%89', '/CAF%C3%89', '/Caf%C3%A9', '/caf%C3%89/x']) {
      const r = await send(gateway().port, target);
      assert.equal(r.status, 400, `${target} reached ${r.url}`);
    }
  });

  test('a case_insensitive route matches its non-ASCII letters in any case', async () => {
    for (const target of ['/D%C3%89J%C3%80', '/d%C3%A9j%C3%80', '/DEJ%C3%80'.replace('DEJ', 'D%C3%89J')]) {
      assert.equal((await send(gateway().port, target)).status, 401, target);
    }
  });

  test('other non-ASCII paths are not refused', async () => {
    const r = await send(gateway().port, '/%E2%82%AC/%C3%A9t%C3%A9');
    assert.equal(r.status, 200);
    assert.equal(r.url, '/%E2%82%AC/%C3%A9t%C3%A9');
  });
});

describe('Unicode normalization forms (NFC/NFD) in paths', () => {
  const gateway = gatewayWith([
    '{ name: cafe, paths: ["/caf%C3%A9"], plugins: { key-auth: {} } }',
    '{ name: open, paths: ["/"] }',
  ]);

  test('a decomposed spelling (e + combining acute, as macOS/APFS and NFC-normalizing frameworks read /café) is refused', async () => {
    for (const target of ['/cafe%CC%81', '/x%C3%AA%CC%81', '/x/%CC%81']) {
      const r = await send(gateway().port, target);
      assert.equal(r.status, 400, `${target} reached ${r.url}`);
    }
    assert.equal((await send(gateway().port, '/caf%C3%A9')).status, 401);
  });
});

describe('headers that override the path upstream', () => {
  const gateway = gatewayWith([
    '{ name: private, paths: ["/private"], plugins: { key-auth: {} } }',
    '{ name: open, paths: ["/"] }',
  ]);

  test('X-Original-URL and X-Rewrite-URL (IIS URL Rewrite, Symfony, Zend serve their path instead) never reach the upstream', async () => {
    const raw = await rawRequest(gateway().port, 'GET /open HTTP/1.1\r\nHost: a.example\r\nX-Original-URL: /private\r\nx-rewrite-url: /private\r\nX-Kept: yes\r\nConnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 200 /);
    const headers = (JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '')) as { headers: Record<string, string> }).headers;
    assert.equal(headers['x-kept'], 'yes');
    assert.equal(headers['x-original-url'], undefined);
    assert.equal(headers['x-rewrite-url'], undefined);
  });
});

describe('credentials in traces', () => {
  const spans: OtlpSpan[] = [];
  const arrivals = new EventEmitter();
  let receiver: Upstream;
  before(async () => {
    receiver = await startSpanCollector(spans, arrivals);
  });
  const gateway = gatewayWith(
    ['{ name: kept, paths: ["/kept"], plugins: { key-auth: { key_names: [token], hide_credentials: false } } }'],
    () => `tracing: { endpoint: "${receiver.url}/v1/traces", sampling: { ratio: 1 }, flush_interval: 100ms }\n`,
  );
  // After the gateway's own after hook: it may still export on close.
  after(() => receiver.close());

  test("a key kept by hide_credentials: false, and an access_token, are [redacted] in the client span's url.full", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await http(`${gateway().url}/kept?a=1&token=${KEY}&access_token=secret-token-1`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    assert.equal(res.status, 200);
    let client: OtlpSpan | undefined;
    for (let i = 0; i < 50 && client === undefined; i++) {
      client = spans.find((s) => s.traceId === traceId && s.kind === 3);
      if (client === undefined) await Promise.race([once(arrivals, 'spans'), new Promise((r) => setTimeout(r, 200))]);
    }
    assert.ok(client, 'the client span arrived');
    const full = client.attributes.find((a) => a.key === 'url.full')?.value['stringValue'] as string;
    assert.match(full, /\/kept\?a=1&token=\[redacted\]&access_token=\[redacted\]$/);
    assert.ok(!full.includes(KEY));
  });
});

describe('a trailing slash that changes the route', () => {
  const gateway = gatewayWith([
    '{ name: exact, paths: ["=/exact/secret"], plugins: { key-auth: {} } }',
    '{ name: rx, paths: ["~^/rx/secret$"], plugins: { key-auth: {} } }',
    '{ name: exact-param, paths: ["=/users/:id/secret"], plugins: { key-auth: {} } }',
    '{ name: prefix, paths: ["/private"], plugins: { key-auth: {} } }',
    '{ name: slashed, paths: ["=/slashed/"], plugins: { key-auth: {} } }',
    '{ name: open, paths: ["/"] }',
  ]);

  test('Express (non-strict routing) and Spring MVC < 6 serve /x/ as /x: /x/ next to an exact or regex route for /x is refused', async () => {
    for (const target of ['/exact/secret/', '/rx/secret/', '/users/7/secret/', '/EXACT/SECRET/', '/exact/secret//']) {
      const r = await send(gateway().port, target);
      assert.equal(r.status, 400, `${target} reached ${r.url}`);
    }
  });

  test('trailing slashes that keep the route pass', async () => {
    assert.equal((await send(gateway().port, '/private/')).status, 401);
    assert.equal((await send(gateway().port, '/slashed/')).status, 401, 'an exact route written with its slash');
    for (const target of ['/', '/other/', '/exact/', '/users/7/']) {
      const r = await send(gateway().port, target);
      assert.equal(r.status, 200, target);
      assert.equal(r.url, target);
    }
  });
});
