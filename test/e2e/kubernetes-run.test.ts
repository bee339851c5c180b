// The Kubernetes run modes through the real CLI: `start --kubernetes-manifests DIR` follows
// the directory (routes change, Gateway listener ports open and close, a keep-alive connection
// on an unchanged listener stays up, a broken document is reported and skipped);
// `start --kubernetes --kubeconfig` against a local API server (test/helpers/kube-api.ts)
// with two replicas: both serve traffic, one holds the Lease and status is written once;
// `kubernetes render|status`; the flags' and settings file's problems.
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { collectionPath, KIND_INFO, type Kind } from '../../src/kubernetes/resources.js';
import { createLogger } from '../../src/base/logger.js';
import type { RawConfig } from '../../src/config/types.js';
import { KubernetesController } from '../../src/kubernetes/controller.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { KubernetesPlane } from '../../src/runtime/kubernetes.js';
import { startEchoBackend, type EchoBackend } from '../helpers/echo-backend.js';
import { endpointSlices, gateway, GATEWAY_CLASS, httpRoute, portMap, service, until, writeManifests } from '../helpers/conformance-run.js';
import { stablePort } from '../helpers/ports.js';
import { KubeApiServer } from '../helpers/kube-api.js';
import { runCli, startCli, tempDir, TEST_ENGINE, writeConfig, type CliGateway } from '../helpers/servers.js';

const SETTINGS = '_format_version: "1"\nlisten:\n  status: null\n';

/**
 * test/node/ re-runs this file with engine: node for what the engine serves: the Gateway
 * listeners a manifests change opens and closes, the keep-alive connection an unchanged one
 * keeps. The commands, the refusals, the API server feed with its Lease and status writes, and
 * the pure reads never touch the HTTP/1.1 engine: they run once, here.
 */
const ENGINE_NEUTRAL = TEST_ENGINE === 'node' ? { skip: 'no HTTP/1.1 engine involved: run by test/e2e/kubernetes-run' } : {};

/** GET through a gateway port with a keep-alive agent; the echo's JSON and the local port of the connection. */
function get(port: number, path: string, agent?: Agent): Promise<{ status: number; pod: string | null; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'example.com' }, ...(agent ? { agent } : { agent: false }) }, (res) => {
      const localPort = res.socket.localPort!;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const pod = res.headers['content-type'] === 'application/json' ? (JSON.parse(body) as { pod?: string }).pod ?? null : null;
        resolve({ status: res.statusCode!, pod, localPort });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const refused = (port: number) => get(port, '/').then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');

describe('start --kubernetes-manifests DIR', () => {
  let echoA: EchoBackend;
  let echoB: EchoBackend;
  let dir: string;
  let gw: CliGateway;
  let ports: Map<number, number>;
  const base = () => [GATEWAY_CLASS, service('echo-a'), service('echo-b'), ...endpointSlices('default', 'echo-a', [{ name: 'http', port: 8080 }], [echoA]), ...endpointSlices('default', 'echo-b', [{ name: 'http', port: 8080 }], [echoB])];

  before(async () => {
    echoA = await startEchoBackend('default', 'echo-a-5d8f7c9b6-a1b2c');
    echoB = await startEchoBackend('default', 'echo-b-5d8f7c9b6-d3e4f');
    dir = tempDir('northgate-k8s-');
    writeManifests(dir, 'base.yaml', base());
    writeManifests(dir, 'app.yaml', [gateway('gw', [{ name: 'http', port: 80 }]), httpRoute('a', 'gw', '/a', 'echo-a')]);
    const pm = await portMap([80, 8080]);
    ports = pm.map;
    gw = await startCli(['--kubernetes-manifests', dir, '--port-map', pm.text, '--bind-address', '127.0.0.1', '--config', writeConfig(SETTINGS)]);
  });
  after(async () => {
    await gw?.stop();
    await echoA?.close();
    await echoB?.close();
  });

  test('serves the routes of the manifests on the mapped port of the Gateway listener', async () => {
    assert.equal(gw.port, ports.get(80));
    const r = await get(ports.get(80)!, '/a/x');
    assert.equal(r.status, 200);
    assert.equal(r.pod, echoA.pod);
    assert.equal((await get(ports.get(80)!, '/nothing')).status, 404);
    assert.equal(await refused(ports.get(8080)!), true, 'no listener on 8080 yet');
  });

  test('a new Gateway listener opens its port, an unchanged listener keeps its connections; a route follows its change', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await get(ports.get(80)!, '/a/1', agent);
      writeManifests(dir, 'app.yaml', [gateway('gw', [{ name: 'http', port: 80 }, { name: 'extra', port: 8080 }]), httpRoute('a', 'gw', '/a', 'echo-a'), httpRoute('b', 'gw', '/b', 'echo-b')]);
      const onExtra = await until(async () => {
        const r = await get(ports.get(8080)!, '/b/y');
        return r.status === 200 ? r : undefined;
      }, 'the new listener to serve route b');
      assert.equal(onExtra.pod, echoB.pod);
      const afterChange = await get(ports.get(80)!, '/a/2', agent);
      assert.equal(afterChange.pod, echoA.pod);
      assert.equal(afterChange.localPort, before.localPort, 'the keep-alive connection on the unchanged listener is the same one');

      writeManifests(dir, 'app.yaml', [gateway('gw', [{ name: 'http', port: 80 }, { name: 'extra', port: 8080 }]), httpRoute('a', 'gw', '/c', 'echo-a'), httpRoute('b', 'gw', '/b', 'echo-b')]);
      await until(async () => (await get(ports.get(80)!, '/c/z')).pod === echoA.pod, 'route a to move to /c');
      assert.equal((await get(ports.get(80)!, '/a/1')).status, 404, 'the old path is gone');
    } finally {
      agent.destroy();
    }
  });

  test('a removed Gateway listener closes its port; the other keeps serving', async () => {
    writeManifests(dir, 'app.yaml', [gateway('gw', [{ name: 'http', port: 80 }]), httpRoute('a', 'gw', '/c', 'echo-a'), httpRoute('b', 'gw', '/b', 'echo-b')]);
    await until(() => refused(ports.get(8080)!), 'port 8080 to close');
    assert.equal((await get(ports.get(80)!, '/b/1')).pod, echoB.pod);
  });

  test('a document that does not parse is reported as FILE:LINE:COL and skipped; the rest keeps serving', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: x\n');
    const line = await gw.waitFor((l) => l['type'] === 'kubernetes' && typeof l['problem'] === 'string' && (l['problem'] as string).includes('broken.yaml:'));
    assert.match(line['problem'] as string, /broken\.yaml:\d+:\d+ /);
    assert.equal((await get(ports.get(80)!, '/c/1')).pod, echoA.pod);
    rmSync(join(dir, 'broken.yaml'));
  });

  test('SIGTERM drains and exits 0', async () => {
    assert.equal(await gw.stop(), 0);
  });
});

describe('kubernetes render | status', ENGINE_NEUTRAL, () => {
  let dir: string;
  let echo: EchoBackend;
  before(async () => {
    echo = await startEchoBackend('default', 'echo-a-5d8f7c9b6-a1b2c');
    dir = tempDir('northgate-k8s-');
    writeManifests(dir, 'all.yaml', [GATEWAY_CLASS, service('echo-a'), ...endpointSlices('default', 'echo-a', [{ name: 'http', port: 8080 }], [echo]), gateway('gw', [{ name: 'http', port: 80 }]), httpRoute('a', 'gw', '/a', 'echo-a')]);
  });
  after(() => echo.close());

  test('render prints the config the resources compile to: the mapped listener, the echo as a target', async () => {
    const r = await runCli(['kubernetes', 'render', '--manifests', dir, '--port-map', '80=18080', '--bind-address', '127.0.0.1']);
    assert.equal(r.code, 0, r.stderr);
    const config = parseYaml(r.stdout) as { _format_version: string; listen: { proxy: unknown }; upstreams: Array<{ targets: Array<{ url: string }> }> };
    assert.equal(config._format_version, '1');
    assert.match(JSON.stringify(config.listen.proxy), /127\.0\.0\.1:18080/);
    assert.ok(config.upstreams.some((u) => u.targets.some((t) => t.url === `http://127.0.0.1:${echo.port}`)), r.stdout);
  });

  test('status prints every GatewayClass, Gateway and route with its computed status', async () => {
    const r = await runCli(['kubernetes', 'status', '--manifests', dir]);
    assert.equal(r.code, 0, r.stderr);
    const list = parseYaml(r.stdout) as Array<{ kind: string; name: string; status: { conditions?: Array<{ type: string; status: string }>; parents?: Array<{ controllerName: string; conditions: Array<{ type: string; status: string }> }>; listeners?: Array<{ name: string }> } }>;
    assert.deepEqual(list.map((s) => `${s.kind} ${s.name}`), ['GatewayClass northgate', 'Gateway gw', 'HTTPRoute a']);
    assert.equal(list[0]!.status.conditions!.find((c) => c.type === 'Accepted')!.status, 'True');
    assert.deepEqual(list[1]!.status.listeners!.map((l) => l.name), ['http']);
    const parent = list[2]!.status.parents![0]!;
    assert.equal(parent.controllerName, 'northgate.io/gateway-controller');
    assert.equal(parent.conditions.find((c) => c.type === 'Accepted')!.status, 'True');
  });

  test('a broken manifest is reported on stderr as FILE:LINE:COL; the others still render', async () => {
    const d = tempDir('northgate-k8s-');
    writeManifests(d, 'ok.yaml', [GATEWAY_CLASS]);
    writeFileSync(join(d, 'bad.yaml'), 'kind: Gateway\nmetadata: {name: x}\n');
    const r = await runCli(['kubernetes', 'status', '--manifests', d]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /bad\.yaml:1:1 missing "apiVersion"/);
    assert.match(r.stdout, /GatewayClass/);
  });

  test('explain --kubernetes-manifests: the route a request takes, and the routes not attached with their reasons', async () => {
    const d = tempDir('northgate-k8s-');
    writeManifests(d, 'all.yaml', [
      GATEWAY_CLASS,
      service('echo-a'),
      ...endpointSlices('default', 'echo-a', [{ name: 'http', port: 8080 }], [echo]),
      gateway('gw', [{ name: 'http', port: 80 }]),
      httpRoute('a', 'gw', '/a', 'echo-a'),
      httpRoute('wrong-listener', 'gw', '/b', 'echo-a', { sectionName: 'nope' }),
      httpRoute('no-backend', 'gw', '/c', 'missing'),
    ]);
    const r = await runCli(['explain', '--kubernetes-manifests', d, 'GET', 'http://example.com/a/1']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /✓ .*prefix \/a/);
    assert.match(r.stdout, /Backends: .*echo-a/);
    assert.match(r.stdout, /Kubernetes resources not attached/);
    assert.match(r.stdout, /✗ HTTPRoute default\/wrong-listener → Gateway default\/gw\/nope: Accepted=False \(NoMatchingParent\)/);
    assert.match(r.stdout, /✗ HTTPRoute default\/no-backend → Gateway default\/gw: ResolvedRefs=False \(BackendNotFound\)/);
    const usage = await runCli(['explain', '--kubernetes-manifests', d, '--config', 'x.yaml', 'GET', '/']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /not both/);
  });

  test('usage errors: no subcommand, no --manifests, a directory that is not one, a bad port map', async () => {
    for (const [args, message] of [
      [['kubernetes'], /kubernetes takes render or status/],
      [['kubernetes', 'render'], /needs --manifests DIR/],
      [['kubernetes', 'status', '--manifests', join(dir, 'nope')], /not a directory/],
      [['kubernetes', 'render', '--manifests', dir, '--port-map', '80:18080'], /--port-map takes DECLARED=LOCAL/],
      [['kubernetes', 'render', '--manifests', dir, '--port-map', '80=70000'], /--port-map takes DECLARED=LOCAL/],
    ] as const) {
      const r = await runCli([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

describe('start in the Kubernetes modes refuses what it cannot do', ENGINE_NEUTRAL, () => {
  test('flags that do not go together, a settings file with routes in it, a missing directory', async () => {
    const dir = tempDir('northgate-k8s-');
    const withServices = writeConfig('_format_version: "1"\nservices:\n  - name: s\n    url: http://127.0.0.1:1\n    routes: [{paths: ["/"]}]\n');
    for (const [args, message] of [
      [['start', '--kubernetes-manifests', join(dir, 'nope')], /--kubernetes-manifests .*nope: not a directory/],
      [['start', '--kubernetes', '--kubernetes-manifests', dir], /give one of them/],
      [['start', '--kubeconfig', '/x'], /--kubeconfig goes with --kubernetes/],
      [['start', '--port-map', '80=1'], /--port-map goes with --kubernetes/],
      [['start', '--kubernetes-manifests', dir, '--workers', '2'], /--workers is not supported/],
      [['start', '--kubernetes-manifests', dir, '--config', withServices], /northgate\.yaml:2:1 services: in the Kubernetes modes, services come from the cluster's resources/],
      [['start', '--kubernetes', '--kubeconfig', join(dir, 'missing-kubeconfig')], /cannot read the kubeconfig/],
      [['start', '--kubernetes'], /KUBERNETES_SERVICE_HOST is not set \(not running in a pod\?\); give --kubeconfig FILE/],
    ] as const) {
      const r = await runCli([...args], { env: { KUBERNETES_SERVICE_HOST: '' } });
      assert.ok(r.code === 2 || r.code === 3, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

describe('start --kubernetes --kubeconfig: two replicas against an API server', ENGINE_NEUTRAL, () => {
  let api: KubeApiServer;
  let echo: EchoBackend;
  let replicas: CliGateway[] = [];
  const path = (k: Kind) => collectionPath(KIND_INFO.get(k)!);
  const statusPatches = () => api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status'));

  before(async () => {
    api = await new KubeApiServer().start();
    echo = await startEchoBackend('default', 'echo-a-5d8f7c9b6-a1b2c');
    api.put(path('GatewayClass'), GATEWAY_CLASS as never);
    api.put(path('Gateway'), gateway('gw', [{ name: 'http', port: 80 }]) as never);
    api.put(path('Service'), service('echo-a') as never);
    for (const s of endpointSlices('default', 'echo-a', [{ name: 'http', port: 8080 }], [echo])) api.put(path('EndpointSlice'), s as never);
    api.put(path('HTTPRoute'), httpRoute('a', 'gw', '/a', 'echo-a') as never);
    const dir = tempDir('northgate-kubeconfig-');
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'test', user: { token: 'test-token' } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
        'current-context': 'test',
      }),
    );
    const settings = writeConfig(SETTINGS);
    for (const pod of ['northgate-0', 'northgate-1']) {
      const port = await stablePort();
      replicas.push(await startCli(['--kubernetes', '--kubeconfig', kubeconfig, '--port-map', `80=${port}`, '--bind-address', '127.0.0.1', '--config', settings], { POD_NAME: pod, POD_NAMESPACE: 'northgate-system' }));
    }
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await echo?.close();
    await api?.close();
  });

  test('every replica serves the routes', async () => {
    for (const r of replicas) assert.equal((await get(r.port, '/a/1')).pod, echo.pod);
  });

  test('one replica holds the Lease and status is written once per object', async () => {
    const lease = await until(() => api.get('/apis/coordination.k8s.io/v1/leases', 'northgate-system', 'northgate-status'), 'the Lease');
    const holder = (lease['spec'] as { holderIdentity: string }).holderIdentity;
    assert.ok(['northgate-0', 'northgate-1'].includes(holder), holder);
    await until(() => statusPatches().some((p) => p.path.includes('/httproutes/a/')), 'the HTTPRoute status');
    await until(() => statusPatches().some((p) => p.path.includes('/gateways/gw/')), 'the Gateway status');
    // Both replicas have seen every change by now; give the follower a few retry periods to (wrongly) write too.
    await new Promise((r) => setTimeout(r, 2500));
    const perObject = new Map<string, number>();
    for (const p of statusPatches()) perObject.set(p.path, (perObject.get(p.path) ?? 0) + 1);
    for (const [p, n] of perObject) assert.equal(n, 1, `${p} patched ${n} times`);
    // The status written back changes the objects (a watch event each) but not the config: no reload.
    for (const r of replicas) assert.equal(r.lines.filter((l) => l['msg'] === 'config reloaded').length, 0, 'a status write-back reloads nothing');
    const route = api.get(path('HTTPRoute'), 'default', 'a')!;
    const parents = (route['status'] as { parents: Array<{ controllerName: string }> }).parents;
    assert.equal(parents[0]!.controllerName, 'northgate.io/gateway-controller');
  });

  test('a route changed in the API server is followed by both replicas', async () => {
    api.put(path('HTTPRoute'), httpRoute('a', 'gw', '/moved', 'echo-a') as never);
    for (const r of replicas) await until(async () => (await get(r.port, '/moved/1')).pod === echo.pod, `replica on ${r.port} to follow the change`);
  });
});

describe('reading a manifests directory again', ENGINE_NEUTRAL, () => {
  test('parses only the files that changed: the objects of the others are the same objects', async () => {
    const { readManifests } = await import('../../src/kubernetes/manifests.js');
    const dir = tempDir('northgate-k8s-');
    writeManifests(dir, 'a.yaml', [service('a')]);
    writeManifests(dir, 'b.yaml', [service('b')]);
    const cache = new Map();
    const first = readManifests(dir, cache);
    writeManifests(dir, 'b.yaml', [service('b', 'default', 9090)]);
    const second = readManifests(dir, cache);
    const [a1, b1] = first.objects.get('Service')!;
    const [a2, b2] = second.objects.get('Service')!;
    assert.equal(a2, a1, 'a.yaml is not parsed again');
    assert.notEqual(b2, b1);
    assert.equal((b2!.spec as { ports: Array<{ port: number }> }).ports[0]!.port, 9090);
    rmSync(join(dir, 'a.yaml'));
    const third = readManifests(dir, cache);
    assert.deepEqual(third.objects.get('Service')!.map((o) => o.metadata.name), ['b']);
    assert.equal(cache.size, 1, 'a removed file leaves the cache');
  });
});

describe('what does not validate or translate keeps the config in force', ENGINE_NEUTRAL, () => {
  const logger = createLogger({ level: 'silent' });
  const doc = (path: string, url = 'http://127.0.0.1:1') => ({ _format_version: '1', listen: { proxy: [{ address: '127.0.0.1:0' }] }, services: [{ name: 's', url, routes: [{ paths: [path] }] }] });

  test('a document that does not validate is not applied; the next valid one is', async () => {
    let push!: (d: Record<string, unknown>) => void;
    const feed = {
      name: 'test feed',
      start: (on: (d: Record<string, unknown>) => void) => {
        push = on;
        on(doc('/a'));
        return Promise.resolve();
      },
      stop: () => Promise.resolve(),
    };
    const plane = await KubernetesPlane.prepare({ feed, settings: { _format_version: '1', listen: { status: null } }, registry: defaultRegistry(), logger });
    const applied: RawConfig[] = [];
    await plane.start((c) => void applied.push(c));
    assert.equal(applied.length, 0, 'the first document is the one the gateway starts from');
    push(doc('no-leading-slash', 'not a url'));
    await new Promise((r) => setImmediate(r));
    assert.equal(applied.length, 0);
    assert.equal(plane.current.services![0]!.routes![0]!.paths[0], '/a');
    push(doc('/b'));
    await until(() => applied.length === 1, 'the valid document');
    assert.equal(applied[0]!.services![0]!.routes![0]!.paths[0], '/b');
    assert.equal((applied[0]!.listen as { status: unknown }).status, null, 'the settings stay');
  });

  test('a translation that throws hands on nothing; the controller keeps going', async () => {
    const dir = tempDir('northgate-k8s-');
    writeManifests(dir, 'a.yaml', [GATEWAY_CLASS]);
    let calls = 0;
    const translateOnce = (): { config: Record<string, unknown>; statuses: []; notes: [] } => {
      calls++;
      if (calls === 2) throw new Error('translation bug');
      return { config: { _format_version: '1', calls }, statuses: [], notes: [] };
    };
    const controller = new KubernetesController({ source: { kind: 'manifests', dir, debounceMs: 20 }, translate: translateOnce, logger, store: { quietMs: 10, maxDelayMs: 50 } });
    const docs: Array<Record<string, unknown>> = [];
    await controller.start((d) => docs.push(d));
    try {
      writeManifests(dir, 'b.yaml', [service('b')]);
      await until(() => calls >= 2, 'the second translation');
      assert.equal(docs.length, 1, 'nothing handed on when the translation throws');
      writeManifests(dir, 'c.yaml', [service('c')]);
      await until(() => docs.length === 2, 'the next translation');
      assert.equal(docs[1]!['calls'], 3);
    } finally {
      await controller.stop();
    }
  });
});
