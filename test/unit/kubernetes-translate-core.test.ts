// The config keys the Kubernetes translation is built on: routes bound to named proxy
// listeners (`listen.proxy[].name`, `routes[].listeners`), listener certificates as PEM text
// (`cert_pem`, `key_pem`), and upstreams without targets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configProblems } from '../helpers/config.js';
import { CertDir } from '../helpers/certs.js';
import { loadConfigText, buildSnapshot } from '../../src/compiler/load.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { PoolRegistry } from '../../src/upstream/pools.js';
import type { RouterInput } from '../../src/router/router.js';

const certs = new CertDir().ca('ca').leaf('a', 'a.test', 'ca', 'DNS:a.test').leaf('b', 'b.test', 'ca', 'DNS:b.test');
const pem = (name: string) => JSON.stringify(certs.read(name).toString());

const BOUND = `_format_version: "1"
listen:
  proxy:
    - { address: "127.0.0.1:0", name: public }
    - { address: "127.0.0.1:0", name: internal }
    - "127.0.0.1:0"
services:
  - name: s
    url: http://127.0.0.1:9
    routes:
      - { name: pub, paths: ["/x"], listeners: [public] }
      - { name: int, paths: ["/x"], listeners: [internal] }
      - { name: both, paths: ["/y"], listeners: [public, internal] }
      - { name: all, paths: ["/z"] }
`;

describe('routes bound to listeners', () => {
  test('names are checked: unknown listener names, duplicates', () => {
    assert.deepEqual(configProblems(BOUND, 'gw.yaml'), []);
    const unknown = BOUND.replace('listeners: [internal] }', 'listeners: [internl] }');
    assert.deepEqual(configProblems(unknown, 'gw.yaml'), ['gw.yaml:12:49 services[0].routes[1].listeners[0]: no proxy listener named "internl" (did you mean "internal"?)']);
    const dup = BOUND.replace('name: internal }', 'name: public }');
    assert.ok(configProblems(dup, 'gw.yaml').some((l) => l.includes('listen.proxy[1].name: duplicate listener name "public"')), configProblems(dup, 'gw.yaml').join('\n'));
  });

  test('the same match on two listeners is not a duplicate; on the same listener it is', () => {
    const same = BOUND.replace('listeners: [internal] }', 'listeners: [public] }');
    assert.ok(configProblems(same, 'gw.yaml').some((l) => l.includes('matches exactly the same requests')));
  });

  test('the router gives a bound route only to requests of its listeners; unbound routes to every one', () => {
    const registry = defaultRegistry();
    const pools = new PoolRegistry();
    const { snapshot } = buildSnapshot(loadConfigText('gw.yaml', BOUND, registry), registry, pools, 1, 'gw.yaml');
    const ask = (path: string, listener: string | null) => {
      const q: RouterInput = { method: 'GET', host: 'h', path, header: () => undefined, queryParam: () => undefined, matchLength: 0, params: null, listener: { name: listener } };
      return snapshot.router.match(q)?.route.name ?? null;
    };
    assert.equal(ask('/x', 'public'), 'pub');
    assert.equal(ask('/x', 'internal'), 'int');
    assert.equal(ask('/x', null), null);
    assert.equal(ask('/y', 'internal'), 'both');
    assert.equal(ask('/y', null), null);
    assert.equal(ask('/z', null), 'all');
    assert.equal(ask('/z', 'public'), 'all');
    const q: RouterInput = { method: 'GET', host: 'h', path: '/x', header: () => undefined, queryParam: () => undefined, matchLength: 0, params: null, listener: { name: null } };
    assert.match(snapshot.router.explain(q).tried.map((t) => t.reason).join('\n'), /listener \(unnamed\) is not one of public/);
    void pools.closeAll();
  });
});

describe('listener certificates as PEM text', () => {
  const config = (cert: string) => `_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      tls:
        certificates:
          - ${cert}
`;
  test('accepted when the key belongs to the certificate', () => {
    assert.deepEqual(configProblems(config(`{ cert_pem: ${pem('a.crt')}, key_pem: ${pem('a.key')} }`), 'gw.yaml'), []);
  });
  test('a key of another certificate, unreadable PEM, or a mix of files and text is refused', () => {
    const mismatch = configProblems(config(`{ cert_pem: ${pem('a.crt')}, key_pem: ${pem('b.key')} }`), 'gw.yaml');
    assert.equal(mismatch.length, 1);
    assert.match(mismatch[0]!, /certificates\[0\]: the key in key_pem does not belong to the certificate in cert_pem/);
    assert.match(configProblems(config('{ cert_pem: "not pem", key_pem: "nope" }'), 'gw.yaml').join('\n'), /cannot read the certificate or key/);
    assert.match(configProblems(config(`{ cert: /x.crt, key_pem: ${pem('a.key')} }`), 'gw.yaml').join('\n'), /needs "cert" and "key" \(PEM files\) or "cert_pem" and "key_pem" \(PEM text\)/);
    assert.match(configProblems(config('{ cert_pem: "x" }'), 'gw.yaml').join('\n'), /needs "cert" and "key"/);
  });
});

describe('upstreams without targets', () => {
  test('are valid (every request to one is answered 503)', () => {
    assert.deepEqual(configProblems('_format_version: "1"\nupstreams: [{ name: none, targets: [] }]\nservices: [{ name: s, upstream: none, routes: [{ paths: ["/"] }] }]\n', 'gw.yaml'), []);
  });
});
