// engine: native wires Northgate's HTTP/1.1 engine into the proxy listeners (plain, h2c
// beside HTTP/1.1, TLS with ALPN) and the http(s) pools; HTTP/2 keeps node's server; a
// reload that changes the engine keeps the running one and warns.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { IncomingMessage } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { Gateway } from '../../src/runtime/gateway.js';
import { loadConfigText } from '../../src/compiler/load.js';
import { createLogger } from '../../src/base/logger.js';
import { PluginRegistry } from '../../src/pipeline/registry.js';
import { BUILTIN_PLUGINS } from '../../src/plugins/index.js';
import { Http1Request } from '../../src/http1/server-request.js';
import { NativePool } from '../../src/upstream/native-pool.js';
import type { RequestContext } from '../../src/proxy/context.js';
import { CertDir } from '../helpers/certs.js';
import { http, startEchoUpstream, type Upstream } from '../helpers/servers.js';

const certs = new CertDir();

interface Seen {
  req: string;
  pool: string;
}

/** What served each request: the downstream request's class and the target's pool class. */
function watch(): { seen: Seen[]; stop(): void } {
  const seen: Seen[] = [];
  const onEnd = (m: unknown): void => {
    const ctx = m as RequestContext;
    seen.push({
      req: ctx.req instanceof Http1Request ? 'native' : ctx.req instanceof IncomingMessage ? 'node' : 'other',
      pool: ctx.target?.dispatcher instanceof NativePool ? 'native' : 'other',
    });
  };
  subscribe('northgate:request:end', onEnd);
  return { seen, stop: () => unsubscribe('northgate:request:end', onEnd) };
}

function config(upstream: string, engine: string): string {
  return `_format_version: "1"
engine: ${engine}
listen:
  proxy:
    - "127.0.0.1:0"
    - { address: "127.0.0.1:0", http2: true }
    - address: "127.0.0.1:0"
      http2: true
      tls: { certificates: [{ cert: "${certs.path('gw.crt')}", key: "${certs.path('gw.key')}" }] }
  status: null
services:
  - name: s
    url: "${upstream}"
    routes: [{ paths: ["/"] }]
`;
}

describe('engine: native', () => {
  let echo: Upstream;
  let gateway: Gateway;
  let ports: number[];
  let text: string;
  const warnings: string[] = [];

  before(async () => {
    certs.ca('ca');
    certs.leaf('gw', 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1');
    echo = await startEchoUpstream();
    text = config(echo.url, 'native');
    const registry = new PluginRegistry([...BUILTIN_PLUGINS]);
    const logger = createLogger({ level: 'silent' });
    logger.warn = ((_o: unknown, msg: string) => void warnings.push(msg)) as typeof logger.warn;
    gateway = new Gateway({ registry, logger, loadConfig: () => loadConfigText('engine.yaml', text, registry), source: 'engine.yaml' });
    gateway.load();
    ports = (await gateway.listen()).map((b) => b.port);
  });
  after(async () => {
    await gateway.drain(1000);
    await echo.close();
  });

  test('HTTP/1.1 on a plain listener and after the h2c sniff is the engine, to a native pool', async () => {
    const w = watch();
    try {
      for (const port of ports.slice(0, 2)) assert.equal((await http(`http://127.0.0.1:${port}/a`)).status, 200);
    } finally {
      w.stop();
    }
    assert.deepEqual(w.seen, [
      { req: 'native', pool: 'native' },
      { req: 'native', pool: 'native' },
    ]);
  });

  test('TLS without ALPN h2 goes to the engine, ALPN h2 to node\'s HTTP/2 server', async () => {
    const w = watch();
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: ports[2], path: '/b', ca: certs.read('ca.crt'), servername: 'localhost', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
      const session = h2connect(`https://localhost:${ports[2]}`, { ca: certs.read('ca.crt') });
      const h2status = await new Promise<number>((resolve, reject) => {
        const s = session.request({ ':path': '/c' });
        s.on('response', (h) => resolve(Number(h[':status'])));
        s.on('error', reject);
        s.resume();
        s.end();
      });
      session.close();
      assert.equal(h2status, 200);
    } finally {
      w.stop();
    }
    assert.deepEqual(w.seen.map((s) => s.req), ['native', 'other']);
  });

  test('a reload to engine: node keeps the native engine and warns', async () => {
    text = config(echo.url, 'node');
    assert.equal(gateway.reload().ok, true);
    assert.ok(warnings.some((m) => /engine changed in the config to node; native keeps serving until a restart/.test(m)), warnings.join('\n'));
    const w = watch();
    try {
      assert.equal((await http(`http://127.0.0.1:${ports[0]}/d`)).status, 200);
    } finally {
      w.stop();
    }
    assert.deepEqual(w.seen, [{ req: 'native', pool: 'native' }]);
  });
});
