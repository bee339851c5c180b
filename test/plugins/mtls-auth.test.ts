// mtls-auth on a TLS listener with client certificates made by openssl in the test: the
// verified certificate names the consumer; no certificate, one from another CA, or one for
// an unknown consumer get 401; the upstream sees the identity headers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEchoUpstream, startGateway, tempDir, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { configProblems } from '../helpers/config.js';

const dir = tempDir('northgate-mtls-');
const f = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A key and a certificate signed by `ca` (or self-signed when ca is null). */
function makeCert(name: string, subject: string, ca: string | null, ext = ''): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}.key`), '-subj', subject, '-out', f(`${name}.csr`));
  writeFileSync(f(`${name}.ext`), ext || 'basicConstraints=CA:FALSE\n');
  if (ca === null) openssl('x509', '-req', '-in', f(`${name}.csr`), '-signkey', f(`${name}.key`), '-days', '2', '-out', f(`${name}.crt`), '-extfile', f(`${name}.ext`));
  else openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-days', '2', '-out', f(`${name}.crt`), '-extfile', f(`${name}.ext`));
}

function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}.key`), '-subj', `/CN=${name}`, '-days', '2', '-out', f(`${name}.crt`));
}

function get(port: number, path: string, client: string | null): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: 'localhost',
        ca: readFileSync(f('ca.crt')),
        ...(client ? { cert: readFileSync(f(`${client}.crt`)), key: readFileSync(f(`${client}.key`)) } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('mtls-auth', () => {
  let echo: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    makeCa('ca');
    makeCa('other-ca');
    makeCert('server', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    makeCert('alice', '/CN=alice', 'ca');
    makeCert('carol', '/CN=carol', 'ca');
    makeCert('dns-bob', '/CN=whatever', 'ca', 'subjectAltName=DNS:bob.shop.internal\n');
    makeCert('forged-alice', '/CN=alice', 'other-ca');
    echo = await startEchoUpstream();
    gw = await startGateway(`
_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      tls: { certificates: [{ cert: "${f('server.crt')}", key: "${f('server.key')}" }], client_ca: "${f('ca.crt')}" }
  status: null
consumers:
  - { username: alice, groups: [staff] }
  - { username: bob.shop.internal }
services:
  - name: s
    url: "${echo.url}"
    routes:
      - { paths: ["/cn"], plugins: { mtls-auth: {} } }
      - { paths: ["/dns"], plugins: { mtls-auth: { consumer_by: san_dns } } }
`);
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  test('a verified certificate names the consumer; the upstream sees identity headers and https', async () => {
    const res = await get(gw.port, '/cn', 'alice');
    assert.equal(res.status, 200);
    const h = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    assert.equal(h['x-consumer-username'], 'alice');
    assert.equal(h['x-consumer-groups'], 'staff');
    assert.match(h['x-credential-id']!, /^alice\/mtls-auth\//);
    assert.equal(h['x-forwarded-proto'], 'https');
  });

  test('consumer_by san_dns takes the DNS name from the certificate', async () => {
    const res = await get(gw.port, '/dns', 'dns-bob');
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-consumer-username'], 'bob.shop.internal');
  });

  test('no certificate, a certificate from another CA, or an unknown consumer: 401 with a challenge', async () => {
    for (const client of [null, 'forged-alice', 'carol']) {
      const res = await get(gw.port, '/cn', client);
      assert.equal(res.status, 401, String(client));
      assert.match(String(res.headers['www-authenticate']), /^MutualTLS realm="northgate"/);
      assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:unauthorized');
    }
  });

  test('a missing certificate file is a located config error', () => {
    const lines = configProblems(`_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      tls: { certificates: [{ cert: "/nonexistent/server.crt", key: "${f('server.key')}" }] }
`, 'tls.yaml');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^tls\.yaml:5:\d+ listen\.proxy\[0\]\.tls\.certificates\[0\]\.cert: file not found: \/nonexistent\/server\.crt$/);
  });
});
