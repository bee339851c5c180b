// Start-up loads what a command and its config use (docs/architecture.md, "Start-up loads what
// the config uses"): the real CLI runs with a preload that logs every module it loads, and the
// packages a plain config never needs must not be among them (undici's index or its Pool
// under the native engine, the `yaml` library when js-yaml reads the file, the Kubernetes
// client outside the API-server mode, ajv with the prebuilt validator, the stores' drivers).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from '../helpers/servers.js';

const BIN = fileURLToPath(new URL('../../../bin/northgate.js', import.meta.url));
const dir = tempDir('northgate-modules-');

// The hooks see every module loaded through import (ESM, and a CommonJS module's entry);
// require.cache holds what CommonJS loaded. Both are written to NG_MODULE_LOG.
writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.NG_MODULE_LOG, url + '\\n');
  return next(url, context);
}
`);
writeFileSync(join(dir, 'preload.mjs'), `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(new URL(`file://${join(dir, 'hooks.mjs')}`).href)});
const require = createRequire(import.meta.url);
process.on('exit', () => appendFileSync(process.env.NG_MODULE_LOG, Object.keys(require.cache).join('\\n') + '\\n'));
`);

const CONFIG = join(dir, 'northgate.yaml');
writeFileSync(
  CONFIG,
  `_format_version: "1"
listen: { proxy: "127.0.0.1:PORT", status: null }
consumers:
  - username: alice
    credentials: { key-auth: [{ key: alice-key-0123456789 }] }
services:
  - name: api
    url: http://127.0.0.1:9
    routes:
      - name: users
        paths: [/users]
        plugins:
          key-auth: {}
          rate-limit: { limits: [{ per: 1m, max: 10 }] }
          headers: { request: { set: { x-from: northgate } } }
`,
);

/** Runs the CLI with the module log; its exit code, stderr and the npm packages it loaded (package → its files). */
function run(name: string, args: string[]): { code: number | null; stderr: string; packages: Map<string, string[]> } {
  const log = join(dir, `${name}.log`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', join(dir, 'preload.mjs'), BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NG_MODULE_LOG: log } });
  const packages = new Map<string, string[]>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/](.*)$/.exec(line);
    if (m === null) continue;
    const name = m[1]!.replace('\\', '/');
    packages.set(name, [...(packages.get(name) ?? []), m[2]!.replaceAll('\\', '/')]);
  }
  return { code: r.status, stderr: r.stderr, packages };
}

/**
 * What must not load, by package; a package whose small pieces may (undici's symbols for the
 * 100-continue check, ajv's runtime helpers that the prebuilt validator calls) is named by
 * its heavy files: undici's index and its Pool, ajv's compiler.
 */
const HEAVY: Record<string, RegExp> = {
  undici: /^(index\.js|lib\/dispatcher\/(pool|agent)\.js)$/,
  yaml: /./,
  '@kubernetes/client-node': /./,
  ajv: /^dist\/(ajv|core)\.js$/,
  ioredis: /./,
  pg: /./,
  'better-sqlite3': /./,
  jose: /./,
  'openid-client': /./,
};

function assertNone(packages: Map<string, string[]>, names: readonly string[]): void {
  const loaded = names.filter((n) => (packages.get(n) ?? []).some((f) => HEAVY[n]!.test(f)));
  assert.deepEqual(loaded, [], `loaded: ${[...packages.keys()].sort().join(', ')}`);
}

const NEVER_FOR_A_PLAIN_CONFIG = Object.keys(HEAVY);

test('validate: the plugin list, the compiled validator and js-yaml; none of the packages a plain config does not use', () => {
  writeFileSync(join(dir, 'validate.yaml'), readFileSync(CONFIG, 'utf8').replace('PORT', '8000'));
  const r = run('validate', ['validate', '--config', join(dir, 'validate.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.packages.has('js-yaml'), 'the module log sees the parser that read the file');
  assertNone(r.packages, NEVER_FOR_A_PLAIN_CONFIG);
});

test('start on the native engine loads the whole gateway (admin plane, pools, plugins) without undici or the yaml library', async () => {
  // A taken port: start loads and compiles everything, then stops at the bind (exit 3).
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  try {
    const port = (taken.address() as AddressInfo).port;
    writeFileSync(join(dir, 'start.yaml'), readFileSync(CONFIG, 'utf8').replace('PORT', String(port)));
    const r = run('start', ['start', '--config', join(dir, 'start.yaml')]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /EADDRINUSE|in use/);
    assert.ok(r.packages.has('pino') && r.packages.has('js-yaml'), [...r.packages.keys()].join(', '));
    assertNone(r.packages, NEVER_FOR_A_PLAIN_CONFIG);
  } finally {
    taken.close();
  }
});

test('kubernetes render reads manifests without the Kubernetes API client', () => {
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'all.yaml'),
    `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: northgate }
spec: { controllerName: northgate.io/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: northgate
  listeners: [{ name: http, port: 80, protocol: HTTP }]
`,
  );
  const r = run('render', ['kubernetes', 'render', '--manifests', manifests, '--port-map', '80=18080']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.packages.has('yaml'), 'manifests are read with the yaml library');
  assertNone(r.packages, ['@kubernetes/client-node', 'undici']);
});
