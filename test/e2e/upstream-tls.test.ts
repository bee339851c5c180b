// TLS to upstreams with certificates made in the test: verification on by default, a
// private CA, mTLS to an upstream that requires a client certificate, and the SPIFFE URI
// SAN check (expect_san); each failure is a 502 upstream-tls-error problem that says why.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { CertDir } from '../helpers/certs.js';
import { configProblems } from '../helpers/config.js';
import { http, startGateway, type InProcessGateway } from '../helpers/servers.js';

const SPIFFE = 'spiffe://cluster.local/ns/shop/sa/orders';

async function httpsUpstream(certs: CertDir, name: string, mtls: boolean, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<{ server: Server; url: string }> {
  const server = createServer(
    {
      maxVersion,
      cert: certs.read(`${name}.crt`),
      key: certs.read(`${name}.key`),
      ...(mtls ? { ca: certs.read('ca.crt'), requestCert: true, rejectUnauthorized: true } : {}),
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, client: peer?.subject?.CN ?? null }));
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('upstream TLS', () => {
  const certs = new CertDir();
  let plain: { server: Server; url: string };
  let mesh: { server: Server; url: string };
  let mesh13: { server: Server; url: string };
  let gw: InProcessGateway;
  before(async () => {
    certs.ca('ca').ca('other-ca');
    certs.leaf('orders', 'orders', 'ca', `IP:127.0.0.1,URI:${SPIFFE}`);
    certs.leaf('gateway-client', 'northgate', 'ca');
    certs.leaf('foreign-client', 'northgate', 'other-ca');
    plain = await httpsUpstream(certs, 'orders', false);
    // TLS 1.2: the refusal of a missing client certificate is a handshake alert the gateway can name.
    mesh = await httpsUpstream(certs, 'orders', true, 'TLSv1.2');
    mesh13 = await httpsUpstream(certs, 'orders', true);
    const ca = certs.path('ca.crt');
    const upstream = (name: string, url: string, tls: string) => `  - name: ${name}
    targets: [{ url: "${url}" }]${tls ? `\n    tls: ${tls}` : ''}\n`;
    const service = (name: string) => `  - { name: ${name}, upstream: ${name}, routes: [{ paths: ["/${name}"] }] }\n`;
    const cases: Array<[string, string, string]> = [
      ['system-cas', plain.url, ''],
      ['private-ca', plain.url, `{ ca: "${ca}" }`],
      ['no-verify', plain.url, '{ verify: false }'],
      ['other-ca', plain.url, `{ ca: "${certs.path('other-ca.crt')}" }`],
      ['mtls-none', mesh.url, `{ ca: "${ca}" }`],
      ['mtls13-none', mesh13.url, `{ ca: "${ca}" }`],
      ['mtls13', mesh13.url, `{ ca: "${ca}", client_cert: "${certs.path('gateway-client.crt')}", client_key: "${certs.path('gateway-client.key')}" }`],
      ['mtls-foreign', mesh.url, `{ ca: "${ca}", client_cert: "${certs.path('foreign-client.crt')}", client_key: "${certs.path('foreign-client.key')}" }`],
      ['mtls', mesh.url, `{ ca: "${ca}", client_cert: "${certs.path('gateway-client.crt')}", client_key: "${certs.path('gateway-client.key')}" }`],
      ['spiffe-ok', mesh.url, `{ ca: "${ca}", client_cert: "${certs.path('gateway-client.crt')}", client_key: "${certs.path('gateway-client.key')}", expect_san: "${SPIFFE}" }`],
      ['spiffe-wrong', mesh.url, `{ ca: "${ca}", client_cert: "${certs.path('gateway-client.crt')}", client_key: "${certs.path('gateway-client.key')}", expect_san: "spiffe://cluster.local/ns/shop/sa/payments" }`],
    ];
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
${cases.map(([n, u, t]) => upstream(n, u, t)).join('')}
services:
${cases.map(([n]) => service(n)).join('')}`);
  });
  after(async () => {
    await gw.close();
    for (const s of [plain.server, mesh.server, mesh13.server]) {
      s.closeAllConnections();
      s.close();
    }
  });

  const problem = async (path: string) => {
    const res = await http(`${gw.url}${path}`);
    assert.equal(res.status, 502, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const p = JSON.parse(res.body) as { type: string; detail: string };
    assert.equal(p.type, 'urn:northgate:problem:upstream-tls-error');
    return p.detail;
  };

  test('verification is on by default: a private CA the system does not know fails with 502', async () => {
    assert.match(await problem('/system-cas'), /failed verification \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
  });

  test('tls.ca makes the upstream trusted; verify: false skips the check', async () => {
    const ok = await http(`${gw.url}/private-ca`);
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as { url: string }).url, '/private-ca');
    assert.equal((await http(`${gw.url}/no-verify`)).status, 200);
  });

  test('a certificate from another CA than tls.ca fails', async () => {
    assert.match(await problem('/other-ca'), /failed verification/);
  });

  test('an upstream requiring a client certificate: refused without one or with a foreign one, 200 with ours', async () => {
    assert.match(await problem('/mtls-none'), /refused the TLS handshake.*client certificate/);
    // node's TLS server drops a certificate it does not trust without an alert: a 502 all the same.
    const foreign = await http(`${gw.url}/mtls-foreign`);
    assert.equal(foreign.status, 502);
    const ok = await http(`${gw.url}/mtls`);
    assert.equal(ok.status, 200, ok.body);
    assert.equal((JSON.parse(ok.body) as { client: string }).client, 'northgate');
  });

  test('TLS 1.3 upstream requiring a client certificate: 502 without one, 200 with ours', async () => {
    // After a TLS 1.3 handshake the server may just close (node does): a 502 all the same.
    const refused = await http(`${gw.url}/mtls13-none`);
    assert.equal(refused.status, 502);
    assert.equal(refused.headers['content-type'], 'application/problem+json');
    const ok = await http(`${gw.url}/mtls13`);
    assert.equal(ok.status, 200, ok.body);
    assert.equal((JSON.parse(ok.body) as { client: string }).client, 'northgate');
  });

  test('expect_san: the SPIFFE URI SAN must match', async () => {
    const ok = await http(`${gw.url}/spiffe-ok`);
    assert.equal(ok.status, 200, ok.body);
    assert.match(await problem('/spiffe-wrong'), /does not carry the expected SAN/);
  });

  test('config problems: tls on plain targets, a lone client_cert, expect_san without verification', () => {
    const lines = configProblems(`_format_version: "1"
upstreams:
  - name: a
    targets: [{ url: "http://127.0.0.1:1" }]
    tls: { ca: "${certs.path('ca.crt')}" }
  - name: b
    targets: [{ url: "https://127.0.0.1:1" }, { url: "grpc://127.0.0.1:2" }]
    tls: { client_cert: "${certs.path('gateway-client.crt')}", verify: false, expect_san: "${SPIFFE}" }
`, 'up.yaml').join('\n');
    assert.match(lines, /upstreams\[0\]\.tls: applies to https:\/\/ and grpcs:\/\/ targets only/);
    assert.match(lines, /upstreams\[1\]\.targets: mixes grpc:\/\/ and http:\/\/ targets/);
    assert.match(lines, /upstreams\[1\]\.tls: client_cert and client_key go together/);
    assert.match(lines, /upstreams\[1\]\.tls\.expect_san: needs verify: true/);
  });
});
