// The informer layer against a local stand-in of the API server that speaks the list/watch
// protocol (test/helpers/kube-api.ts): list then watch from the list's version with bookmarks,
// events into the store coalesced into one snapshot per burst, resume from a bookmark, re-list
// on 410 Gone (HTTP status or ERROR event), back-off after errors; status merge patches by
// the leader only; Lease election with conflicts, release and the take-over of an expired one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../src/base/logger.js';
import { ApiSource } from '../../src/kubernetes/api-source.js';
import { LeaderElector } from '../../src/kubernetes/leader.js';
import { collectionPath, KIND_INFO, type Kind } from '../../src/kubernetes/resources.js';
import { StatusWriter } from '../../src/kubernetes/status.js';
import { ResourceStore, type ResourceSnapshot } from '../../src/kubernetes/store.js';
import { KubeApiServer } from '../helpers/kube-api.js';

const logger = createLogger({ level: 'silent' });
const path = (k: Kind) => collectionPath(KIND_INFO.get(k)!);

function kubeconfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

/** Polls `pred` (bounded: 200 × 25 ms). */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const route = (name: string, ns = 'default') => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: ns }, spec: { parentRefs: [{ name: 'gw' }] } });
const names = (s: ResourceSnapshot | undefined, k: Kind) => (s?.get(k) ?? []).map((o) => o.metadata.name);

describe('informers against the list/watch protocol', () => {
  let api: KubeApiServer;
  let store: ResourceStore;
  let source: ApiSource;
  const snapshots: ResourceSnapshot[] = [];
  const last = () => snapshots[snapshots.length - 1];
  const watches = (k: Kind) => api.requests.filter((r) => r.path === path(k) && r.query['watch'] === 'true');
  const lists = (k: Kind) => api.requests.filter((r) => r.path === path(k) && r.query['watch'] === undefined);

  before(async () => {
    api = await new KubeApiServer().start();
    api.put(path('GatewayClass'), { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'northgate' }, spec: { controllerName: 'northgate.io/gateway-controller' } });
    api.put(path('HTTPRoute'), route('one'));
    api.put(path('Service'), { metadata: { name: 'echo', namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
    api.put(path('Secret'), { metadata: { name: 'tls', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5' } });
    api.put(path('Secret'), { metadata: { name: 'password', namespace: 'default' }, type: 'Opaque', data: { password: 'c2VjcmV0' } });
    // The first list of HTTPRoutes fails twice: the informer backs off and lists again.
    api.failures.set(path('HTTPRoute'), { status: 500, count: 2 });
    // GRPCRoute's CRD is not installed (yet).
    api.notServed.add(path('GRPCRoute'));
    store = new ResourceStore({ quietMs: 300, maxDelayMs: 5000 });
    store.onSnapshot((s) => snapshots.push(s));
    source = new ApiSource({ kubeconfig: kubeconfig(api.url), store, logger, backoff: { initialMs: 20, maxMs: 100 } });
    source.start();
  });
  after(async () => {
    await source.stop();
    store.close();
    await api.close();
  });

  test('the first snapshot comes once every kind is listed (after failed lists are retried); only TLS Secrets are read', async () => {
    await until(() => snapshots.length > 0, 'the first snapshot');
    assert.equal(snapshots.length, 1, 'one snapshot for the initial lists');
    assert.deepEqual(names(last(), 'HTTPRoute'), ['one']);
    assert.deepEqual(names(last(), 'GatewayClass'), ['northgate']);
    assert.deepEqual(names(last(), 'Service'), ['echo']);
    assert.equal(last()!.get('Service')[0]!.kind, 'Service', 'list items get their kind back');
    assert.deepEqual(names(last(), 'Secret'), ['tls']);
    assert.equal(lists('HTTPRoute').length, 3, 'two failed lists, then one that worked');
    assert.equal(lists('Secret')[0]!.query['fieldSelector'], 'type=kubernetes.io/tls');
    await until(() => api.watchCount === KIND_INFO.size - 1, 'a watch per kind served');
    const w = watches('HTTPRoute')[0]!;
    assert.equal(w.query['allowWatchBookmarks'], 'true');
    assert.ok(Number(w.query['resourceVersion']) >= 105, `the watch starts at the list's version: ${w.query['resourceVersion']}`);
  });

  test('a burst of ADDED/MODIFIED/DELETED events makes one snapshot with the end state', async () => {
    const before = snapshots.length;
    // Spread over ticks (5 ms apart), so each event reaches the store on its own.
    for (let i = 0; i < 20; i++) {
      api.put(path('HTTPRoute'), route(`r${i}`));
      await new Promise((r) => setTimeout(r, 5));
    }
    api.put(path('HTTPRoute'), { ...route('one'), spec: { parentRefs: [{ name: 'other' }] } });
    api.delete(path('HTTPRoute'), 'default', 'r3');
    await until(() => snapshots.length > before && names(last(), 'HTTPRoute').length === 20, 'the burst');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(snapshots.length, before + 1, 'one snapshot for the burst');
    assert.ok(!names(last(), 'HTTPRoute').includes('r3'));
    assert.deepEqual((last()!.get('HTTPRoute').find((o) => o.metadata.name === 'one')!.spec as { parentRefs: unknown }).parentRefs, [{ name: 'other' }]);
  });

  test('a watch that ends is resumed from the last bookmark, without a new list', async () => {
    const listed = lists('HTTPRoute').length;
    api.put(path('Service'), { metadata: { name: 'unrelated', namespace: 'default' } });
    api.bookmark();
    const bookmarkAt = api.resourceVersion;
    await new Promise((r) => setTimeout(r, 100));
    const seen = watches('HTTPRoute').length;
    api.closeWatches();
    await until(() => watches('HTTPRoute').length > seen, 'the resumed watch');
    assert.equal(watches('HTTPRoute').at(-1)!.query['resourceVersion'], bookmarkAt, 'resumed from the bookmark');
    assert.equal(lists('HTTPRoute').length, listed, 'no new list');
  });

  test('a kind not served (404) counts as empty, and is read once it is served', async () => {
    assert.deepEqual(names(last(), 'GRPCRoute'), []);
    assert.ok(lists('GRPCRoute').length >= 1);
    api.notServed.delete(path('GRPCRoute'));
    api.put(path('GRPCRoute'), { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'grpc', namespace: 'default' }, spec: {} });
    await until(() => names(last(), 'GRPCRoute').includes('grpc'), 'the GRPCRoute');
  });

  for (const goneAs of ['status', 'event'] as const) {
    test(`410 Gone (${goneAs === 'status' ? 'HTTP status' : 'ERROR event'}): the kind is listed again; what changed while away shows, deletions too`, async () => {
      await until(() => api.watchCount === KIND_INFO.size, 'every watch connected');
      api.goneAs = goneAs;
      const listed = lists('HTTPRoute').length;
      const count = snapshots.length;
      api.closeWatches();
      // While the watches are down: changes, then the history is compacted away.
      api.delete(path('HTTPRoute'), 'default', 'r0');
      api.put(path('HTTPRoute'), route(`while-away-${goneAs}`));
      api.compact();
      await until(() => lists('HTTPRoute').length > listed, 'a new list');
      await until(() => snapshots.length > count && names(last(), 'HTTPRoute').includes(`while-away-${goneAs}`), 'the re-listed state');
      assert.ok(!names(last(), 'HTTPRoute').includes('r0'), 'deleted while away');
    });
  }
});

describe('status and leader election', () => {
  let api: KubeApiServer;
  const LEASES = '/apis/coordination.k8s.io/v1/leases';
  const lease = (identity: string, kc: KubeConfig, changes: boolean[] = []) =>
    new LeaderElector(kc, { namespace: 'northgate', name: 'northgate-status', identity, leaseDurationMs: 1000, renewDeadlineMs: 800, retryMs: 50 }, logger, (l) => changes.push(l));
  before(async () => {
    api = await new KubeApiServer().start();
  });
  after(() => api.close());

  test('of two replicas one leads; a stopped leader releases the Lease and the other takes over at once', async () => {
    const kc = kubeconfig(api.url);
    const ca: boolean[] = [];
    const cb: boolean[] = [];
    const a = lease('replica-a', kc, ca);
    const b = lease('replica-b', kc, cb);
    a.start();
    b.start();
    await until(() => a.leading || b.leading, 'a leader');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(Number(a.leading) + Number(b.leading), 1, 'exactly one leader');
    const [leader, other] = a.leading ? [a, b] : [b, a];
    const holder = () => (api.get(LEASES, 'northgate', 'northgate-status')!['spec'] as { holderIdentity: string }).holderIdentity;
    assert.equal(holder(), a.leading ? 'replica-a' : 'replica-b');
    const conflicts = api.requests.filter((r) => r.method === 'PUT' || r.method === 'POST').length;
    assert.ok(conflicts >= 2, 'renewals are written');
    await leader.stop();
    assert.equal(leader.leading, false);
    await until(() => other.leading, 'the take-over after release');
    assert.equal(holder(), other === a ? 'replica-a' : 'replica-b');
    await other.stop();
    assert.equal(holder(), '', 'released on stop');
  });

  test('a Lease held by a replica that stopped renewing is taken over after its duration; stale writes get 409', async () => {
    const kc = kubeconfig(api.url);
    const current = api.get(LEASES, 'northgate', 'northgate-status')!;
    api.put(LEASES, { ...current, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 1, renewTime: '2020-01-01T00:00:00.000000Z', leaseTransitions: 3 } });
    const c = lease('replica-c', kc);
    c.start();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(c.leading, false, 'not before the duration has passed on its own clock');
    await until(() => c.leading, 'the take-over');
    const spec = api.get(LEASES, 'northgate', 'northgate-status')!['spec'] as { holderIdentity: string; leaseTransitions: number };
    assert.equal(spec.holderIdentity, 'replica-c');
    assert.equal(spec.leaseTransitions, 4);
    // Another writer changes the Lease under it: its next renewal (stale version) is refused with 409, and it does not lead.
    const stolen = api.get(LEASES, 'northgate', 'northgate-status')!;
    api.put(LEASES, { ...stolen, spec: { ...(stolen['spec'] as object), holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z') } });
    await until(() => !c.leading, 'stepping down');
    await c.stop();
  });

  test('status: a merge patch of the status subresource, by the leader only, not repeated when unchanged', async () => {
    const kc = kubeconfig(api.url);
    api.put(path('Gateway'), { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'default' }, spec: { gatewayClassName: 'northgate' } });
    api.put(path('GatewayClass'), { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'northgate' }, spec: {} });
    api.put(path('Ingress'), { metadata: { name: 'web', namespace: 'default' }, spec: {} });
    let leading = false;
    const writer = new StatusWriter(kc, () => leading, logger);
    const accepted = { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: 1 }] };
    assert.equal(await writer.write('Gateway', 'default', 'gw', accepted), 'not-leader');
    assert.equal(api.requests.filter((r) => r.method === 'PATCH').length, 0);
    leading = true;
    assert.equal(await writer.write('Gateway', 'default', 'gw', accepted), 'written');
    assert.equal(await writer.write('Gateway', 'default', 'gw', accepted), 'unchanged');
    assert.equal(await writer.write('GatewayClass', undefined, 'northgate', accepted), 'written');
    assert.equal(await writer.write('Ingress', 'default', 'web', { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } }), 'written');
    assert.equal(await writer.write('HTTPRoute', 'default', 'missing', { parents: [] }), 'gone');
    const patches = api.requests.filter((r) => r.method === 'PATCH');
    assert.deepEqual(
      patches.map((p) => [p.path, p.contentType]),
      [
        ['/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw/status', 'application/merge-patch+json'],
        ['/apis/gateway.networking.k8s.io/v1/gatewayclasses/northgate/status', 'application/merge-patch+json'],
        ['/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status', 'application/merge-patch+json'],
        ['/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/missing/status', 'application/merge-patch+json'],
      ],
    );
    assert.deepEqual(patches[0]!.body, { status: accepted }, 'the status only');
    const gw = api.get(path('Gateway'), 'default', 'gw')!;
    assert.deepEqual(gw['status'], accepted);
    assert.deepEqual(gw['spec'], { gatewayClassName: 'northgate' }, 'spec untouched');
    writer.forget();
    assert.equal(await writer.write('Gateway', 'default', 'gw', accepted), 'written', 'a new leader writes again');
  });
});
