// Interop: `introspection` against oidc-provider's RFC 7662 endpoint (a real authorization
// server in the test's process), with an opaque access token from its client-credentials grant.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createTestGateway, echoUpstream } from '../../src/testing/index.js';

let server: Server;
let issuer = '';
before(async () => {
  // No types ship with oidc-provider; it is a test-only dependency.
  const { default: Provider } = (await import('oidc-provider' as string)) as { default: new (issuer: string, config: unknown) => { callback(): (req: unknown, res: unknown) => void } };
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      { client_id: 'api-client', client_secret: 'api-client-secret-0123456789', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'orders.read orders.write' },
      { client_id: 'gateway', client_secret: 'gateway-secret-0123456789', grant_types: [], response_types: [], redirect_uris: [] },
    ],
    scopes: ['orders.read', 'orders.write'],
    features: { introspection: { enabled: true }, clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    cookies: { keys: ['test-only-cookie-key-0123456789'] },
  });
  server.on('request', provider.callback());
});
after(() => server.close());

async function clientCredentialsToken(scope: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('api-client:api-client-secret-0123456789').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { access_token: string }).access_token;
}

test('an opaque token of oidc-provider is introspected: scopes, the client as consumer, unknown tokens refused', async () => {
  const gw = createTestGateway({
    config: {
      _format_version: '1',
      services: [{ name: 's', url: 'http://upstream', routes: [
        { name: 'read', paths: ['/read'], plugins: { introspection: { endpoint: `${issuer}/token/introspection`, client_id: 'gateway', client_secret: 'gateway-secret-0123456789', issuer, consumer_claim: 'client_id', required_scopes: ['orders.read'], forward_claims: { 'x-scope': 'scope' } } } },
        { name: 'write', paths: ['/write'], plugins: { introspection: { endpoint: `${issuer}/token/introspection`, client_id: 'gateway', client_secret: 'gateway-secret-0123456789', client_auth: 'client_secret_post', consumer_claim: 'client_id', required_scopes: ['orders.write'] } } },
      ] }],
    },
    upstreams: { upstream: echoUpstream },
  });
  const token = await clientCredentialsToken('orders.read');
  const ok = await gw.request({ path: '/read', headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200, ok.body);
  const h = ok.json<{ headers: Record<string, string> }>().headers;
  assert.equal(h['x-consumer-username'], 'api-client');
  assert.equal(h['x-scope'], 'orders.read');
  const forbidden = await gw.request({ path: '/write', headers: { authorization: `Bearer ${token}` } });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.headers['www-authenticate'], 'Bearer realm="northgate", error="insufficient_scope", scope="orders.write"');
  assert.equal((await gw.request({ path: '/read', headers: { authorization: 'Bearer not-a-token-of-this-server' } })).status, 401);
  await gw.close();
});
