// GRPCRoutes through a gateway compiled from their translation, with @grpc/grpc-js on both
// ends: method and header matches pick the backend, weights split the calls, a request header
// modifier reaches the backend, and a method no rule matches is UNIMPLEMENTED.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { translate } from '../../src/kubernetes/translate/index.js';
import { startGateway, type InProcessGateway } from '../helpers/servers.js';
import { endpointSlicesFor, gatewayClass, parseDocs, snapshotOf } from '../helpers/kube-resources.js';

interface Msg { text: string }
const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(b.toString()) as Msg;
const method = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de });
const echoService = { unary: method('/test.Echo/Unary'), other: method('/test.Echo/Other') };
const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');
type Client = Record<string, (req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Msg) => void) => unknown> & grpc.Client;

const MANIFESTS = `
apiVersion: v1
kind: Service
metadata: { name: g1, namespace: apps }
spec: { ports: [{ port: 50051, appProtocol: kubernetes.io/h2c }] }
---
apiVersion: v1
kind: Service
metadata: { name: g2, namespace: apps }
spec: { ports: [{ port: 50051 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: apps }
spec:
  gatewayClassName: northgate
  listeners: [{ name: http, port: 80, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo, namespace: apps }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ method: { service: test.Echo, method: Unary } }]
      filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-added, value: by-route }] } }]
      backendRefs: [{ name: g1, port: 50051 }]
    - matches: [{ method: { service: test.Echo, method: Unary }, headers: [{ name: x-version, value: "2" }] }]
      backendRefs: [{ name: g2, port: 50051 }]
    - matches: [{ headers: [{ name: x-split, value: "yes" }] }]
      backendRefs: [{ name: g1, port: 50051, weight: 1 }, { name: g2, port: 50051, weight: 1 }]
`;

describe('GRPCRoutes through a gateway from their translation', () => {
  const servers: grpc.Server[] = [];
  const ports = new Map<string, number>();
  let gw: InProcessGateway;
  let client: Client;

  before(async () => {
    for (const name of ['g1', 'g2']) {
      const server = new grpc.Server();
      const answer = (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb(null, { text: `${name}:${String(call.metadata.get('x-added')[0] ?? '')}` });
      server.addService(echoService, { unary: answer, other: answer });
      ports.set(name, await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)))));
      servers.push(server);
    }
    const objects = parseDocs(MANIFESTS);
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    const t = translate(snapshotOf([gatewayClass(), ...objects, ...endpointSlicesFor(objects, (_ns, svc) => ports.get(svc)!)]), { bindAddress: '127.0.0.1', portMap: new Map([[80, port]]) });
    assert.deepEqual(t.notes, []);
    gw = await startGateway(JSON.stringify({ ...t.config, listen: { ...(t.config.listen as object), status: null, admin: null } }));
    client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
  });
  after(async () => {
    client?.close();
    await gw?.close();
    for (const s of servers) s.forceShutdown();
  });

  const call = (name: string, headers: Record<string, string> = {}) =>
    new Promise<{ text?: string; code: number }>((resolve) => {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(headers)) md.set(k, v);
      client[name]!({ text: 'hi' }, md, { deadline: Date.now() + 10_000 }, (err, res) => resolve(err ? { code: err.code } : { text: res.text, code: 0 }));
    });

  test('method and header matches choose the backend; the route header modifier reaches it', async () => {
    assert.deepEqual(await call('unary'), { text: 'g1:by-route', code: 0 });
    assert.deepEqual(await call('unary', { 'x-version': '2' }), { text: 'g2:', code: 0 });
  });

  test('a method no rule matches is UNIMPLEMENTED', async () => {
    assert.equal((await call('other')).code, grpc.status.UNIMPLEMENTED);
  });

  test('weights split the calls one to one', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await call('other', { 'x-split': 'yes' })).text!);
    assert.deepEqual(seen.sort(), ['g1:', 'g1:', 'g2:', 'g2:']);
  });
});
