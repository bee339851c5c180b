// TLS listeners: the certificate is chosen by SNI (exact and wildcard names read from the
// certificates, the first as default), renewed certificates serve new handshakes after a
// reload without a restart, min_version is enforced, and a plain listener can redirect to
// HTTPS with a 308.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { CertDir } from '../helpers/certs.js';
import { configProblems } from '../helpers/config.js';
import { http, startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const certs = new CertDir();

/** The certificate the gateway presents for a server name (undefined: no SNI). */
function handshake(port: number, servername: string | undefined, opts: { maxVersion?: 'TLSv1.2' } = {}): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ...(servername !== undefined ? { servername } : {}), ca: certs.read('ca.crt'), rejectUnauthorized: false, ...opts }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.on('error', reject);
  });
}

function httpsGet(port: number, servername: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, servername, headers: { host: servername }, ca: certs.read('ca.crt'), agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS listeners with SNI', () => {
  let echo: Upstream;
  let gw: InProcessGateway;
  let yaml: string;
  before(async () => {
    certs.ca('ca');
    certs.leaf('default', 'default.example.test', 'ca', 'DNS:default.example.test,IP:127.0.0.1');
    certs.leaf('a', 'a.example.test', 'ca', 'DNS:a.example.test');
    certs.leaf('wild', 'wild', 'ca', 'DNS:*.b.example.test');
    certs.leaf('cn-only', 'cn.example.test', 'ca');
    copyFileSync(certs.path('a.crt'), certs.path('live-a.crt'));
    copyFileSync(certs.path('a.key'), certs.path('live-a.key'));
    echo = await startEchoUpstream();
    yaml = `
_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      tls:
        certificates:
          - { cert: "${certs.path('default.crt')}", key: "${certs.path('default.key')}" }
          - { cert: "${certs.path('live-a.crt')}", key: "${certs.path('live-a.key')}" }
          - { cert: "${certs.path('wild.crt')}", key: "${certs.path('wild.key')}" }
          - { cert: "${certs.path('cn-only.crt')}", key: "${certs.path('cn-only.key')}" }
    - { address: "127.0.0.1:0", redirect_https: true }
    - { address: "127.0.0.1:0", redirect_https: 8443 }
    - address: "127.0.0.1:0"
      tls: { certificates: [{ cert: "${certs.path('default.crt')}", key: "${certs.path('default.key')}" }], min_version: TLSv1.3 }
  status: null
services:
  - name: s
    url: "${echo.url}"
    routes: [{ paths: ["/"] }]
`;
    gw = await startGateway(yaml);
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  test('exact, wildcard and CN names pick their certificate; anything else gets the first', async () => {
    assert.equal((await handshake(gw.port, 'a.example.test')).subject.CN, 'a.example.test');
    assert.equal((await handshake(gw.port, 'A.Example.Test')).subject.CN, 'a.example.test');
    assert.equal((await handshake(gw.port, 'x.b.example.test')).subject.CN, 'wild');
    assert.equal((await handshake(gw.port, 'cn.example.test')).subject.CN, 'cn.example.test');
    // A wildcard covers one label: neither the bare domain nor two labels deep.
    assert.equal((await handshake(gw.port, 'b.example.test')).subject.CN, 'default.example.test');
    assert.equal((await handshake(gw.port, 'y.x.b.example.test')).subject.CN, 'default.example.test');
    assert.equal((await handshake(gw.port, 'unknown.test')).subject.CN, 'default.example.test');
    assert.equal((await handshake(gw.port, undefined)).subject.CN, 'default.example.test');
  });

  test('requests over the SNI-chosen certificate verify against the CA and reach the upstream', async () => {
    const res = await httpsGet(gw.port, 'a.example.test', '/hello');
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/hello');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-host'], 'a.example.test');
  });

  test('a reload serves renewed certificates to new handshakes without a restart', async () => {
    const before = await handshake(gw.port, 'a.example.test');
    certs.leaf('a2', 'a.example.test', 'ca', 'DNS:a.example.test,DNS:renewed.example.test');
    copyFileSync(certs.path('a2.crt'), certs.path('live-a.crt'));
    copyFileSync(certs.path('a2.key'), certs.path('live-a.key'));
    // Until the reload, the old certificate keeps serving.
    assert.equal((await handshake(gw.port, 'a.example.test')).fingerprint256, before.fingerprint256);
    const r = gw.reload(yaml);
    assert.equal(r.ok, true, String(r.problems));
    const after = await handshake(gw.port, 'a.example.test');
    assert.notEqual(after.fingerprint256, before.fingerprint256);
    // The renewed certificate's new name is in the SNI table too.
    assert.equal((await handshake(gw.port, 'renewed.example.test')).fingerprint256, after.fingerprint256);
  });

  test('min_version TLSv1.3 refuses a TLS 1.2 client', async () => {
    await assert.rejects(handshake(gw.ports[3]!, 'default.example.test', { maxVersion: 'TLSv1.2' }));
    assert.equal((await handshake(gw.ports[3]!, 'default.example.test')).subject.CN, 'default.example.test');
  });

  test('redirect_https answers 308 to the same host, path and query on https', async () => {
    const res = await http(`http://127.0.0.1:${gw.ports[1]}/some/path?x=1&y=2`, { headers: { host: 'Shop.Example.com:8080' } });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, 'https://shop.example.com/some/path?x=1&y=2');
    const withPort = await http(`http://127.0.0.1:${gw.ports[2]}/p?q`, { headers: { host: 'shop.example.com' } });
    assert.equal(withPort.status, 308);
    assert.equal(withPort.headers.location, 'https://shop.example.com:8443/p?q');
  });

  test('config errors: redirect on a TLS listener, a key that does not match its certificate', () => {
    const lines = configProblems(`_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      redirect_https: true
      tls: { certificates: [{ cert: "${certs.path('a.crt')}", key: "${certs.path('wild.key')}" }] }
`, 'tls.yaml');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines.join('\n'), /listen\.proxy\[0\]\.tls\.certificates\[0\]: the key in .* does not belong to the certificate/);
    assert.match(lines.join('\n'), /listen\.proxy\[0\]\.redirect_https: only a plain HTTP listener can redirect to HTTPS/);
  });
});
