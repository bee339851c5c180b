// gRPC through the gateway with @grpc/grpc-js on both ends (a JSON-serialized service, no
// protoc): the four call kinds over h2c and TLS listeners to grpc:// and grpcs:// targets,
// status and trailers from the server kept, and the gateway's own answers as gRPC statuses.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CertDir } from '../helpers/certs.js';
import { startGateway, type InProcessGateway } from '../helpers/servers.js';

interface Msg {
  text: string;
}

const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(b.toString()) as Msg;
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: ser,
  requestDeserialize: de,
  responseSerialize: ser,
  responseDeserialize: de,
});
const echoService = {
  unary: method('/test.Echo/Unary', false, false),
  serverStream: method('/test.Echo/ServerStream', false, true),
  clientStream: method('/test.Echo/ClientStream', true, false),
  bidi: method('/test.Echo/Bidi', true, true),
  fail: method('/test.Echo/Fail', false, false),
};
const securedService = { unary: method('/test.Secured/Unary', false, false) };
const missingService = { unary: method('/test.Missing/Unary', false, false) };
const downService = { unary: method('/test.Down/Unary', false, false) };
const limitedService = { unary: method('/test.Limited/Unary', false, false) };
const resetService = { serverStream: method('/test.Reset/ServerStream', false, true) };

const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');
const SecuredClient = grpc.makeGenericClientConstructor(securedService, 'Secured');
const MissingClient = grpc.makeGenericClientConstructor(missingService, 'Missing');
const DownClient = grpc.makeGenericClientConstructor(downService, 'Down');
const LimitedClient = grpc.makeGenericClientConstructor(limitedService, 'Limited');
const ResetClient = grpc.makeGenericClientConstructor(resetService, 'Reset');

/** A raw HTTP/2 upstream that sends one gRPC message and then resets the stream. */
async function startResettingUpstream(): Promise<Http2Server> {
  const server = createH2Server();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const msg = ser({ text: 'first' });
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    msg.copy(frame, 5);
    stream.on('error', () => undefined);
    // destroy() resets the stream at once (close() would first end it cleanly).
    stream.write(frame, () => stream.destroy(new Error('upstream crashed')));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const impl: grpc.UntypedServiceImplementation = {
  unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
    const seen = call.metadata.get('apikey').length > 0 ? 'with-apikey' : 'no-apikey';
    const md = new grpc.Metadata();
    md.set('x-trailer', 'kept');
    cb(null, { text: `unary:${call.request.text}:${seen}:${String(call.metadata.get('x-consumer-username')[0] ?? '')}` }, md);
  },
  serverStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
    for (let i = 0; i < 3; i++) call.write({ text: `${call.request.text}-${i}` });
    call.end();
  },
  clientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
    const parts: string[] = [];
    call.on('data', (m: Msg) => parts.push(m.text));
    call.on('end', () => cb(null, { text: parts.join('+') }));
  },
  bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
    call.on('data', (m: Msg) => call.write({ text: `echo:${m.text}` }));
    call.on('end', () => call.end());
  },
  fail: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
    cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: ünïcode' });
  },
};

async function startGrpcServer(creds: grpc.ServerCredentials): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(echoService, impl);
  server.addService(securedService, { unary: impl['unary']! });
  server.addService(limitedService, { unary: impl['unary']! });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  return { server, port };
}

function unary(client: Any, name: string, req: Msg, md = new grpc.Metadata()): Promise<{ res: Msg; trailers: grpc.Metadata }> {
  let call: Any;
  const result = new Promise<Msg>((resolve, reject) => {
    call = client[name](req, md, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: Msg) => (err ? reject(err) : resolve(res)));
  });
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return Promise.all([result, status]).then(([res, s]) => ({ res, trailers: s.metadata }));
}

async function statusOf(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  assert.fail('the call succeeded');
}

describe('gRPC through the gateway', () => {
  const certs = new CertDir();
  let plain: { server: grpc.Server; port: number };
  let secure: { server: grpc.Server; port: number };
  let gw: InProcessGateway;
  let h2cPort: number;
  let tlsPort: number;
  let clients: Any[] = [];
  const client = (Ctor: Any, port = h2cPort): Any => {
    const c = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  };
  before(async () => {
    certs.ca('ca');
    certs.leaf('gw', 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1');
    certs.leaf('svc', 'orders.shop.internal', 'ca', 'DNS:orders.shop.internal');
    plain = await startGrpcServer(grpc.ServerCredentials.createInsecure());
    secure = await startGrpcServer(grpc.ServerCredentials.createSsl(certs.read('ca.crt'), [{ cert_chain: certs.read('svc.crt'), private_key: certs.read('svc.key') }], false));
    gw = await startGateway(`
_format_version: "1"
listen:
  proxy:
    - { address: "127.0.0.1:0", http2: true }
    - address: "127.0.0.1:0"
      http2: true
      tls: { certificates: [{ cert: "${certs.path('gw.crt')}", key: "${certs.path('gw.key')}" }] }
  status: null
consumers:
  - username: alice
    credentials: { key-auth: [{ key: "alice-secret-key-1" }] }
upstreams:
  - name: grpc-plain
    targets: [{ url: "grpc://127.0.0.1:${plain.port}" }]
  - name: grpc-tls
    targets: [{ url: "grpcs://127.0.0.1:${secure.port}" }]
    tls: { ca: "${certs.path('ca.crt')}", servername: orders.shop.internal }
services:
  - name: echo
    upstream: grpc-plain
    routes: [{ paths: ["/test.Echo/"] }]
  - name: secured
    upstream: grpc-tls
    routes: [{ paths: ["/test.Secured/"], plugins: { key-auth: {} } }]
  - name: limited
    upstream: grpc-plain
    routes: [{ paths: ["/test.Limited/"], plugins: { rate-limit: { limits: [{ per: 1h, max: 1 }], key: route } } }]
  - name: down
    url: "grpc://127.0.0.1:1"
    timeouts: { connect: 2s }
    routes: [{ paths: ["/test.Down/"] }]
`);
    [h2cPort, tlsPort] = gw.ports as [number, number];
  });
  after(async () => {
    for (const c of clients) c.close();
    clients = [];
    await gw.close();
    plain.server.forceShutdown();
    secure.server.forceShutdown();
  });

  test('unary over h2c to a grpc:// target; server trailers reach the client', async () => {
    const { res, trailers } = await unary(client(EchoClient), 'unary', { text: 'hi' });
    assert.equal(res.text, 'unary:hi:no-apikey:');
    assert.deepEqual(trailers.get('x-trailer'), ['kept']);
  });

  test('server streaming', async () => {
    const call = client(EchoClient).serverStream({ text: 's' });
    const got: string[] = [];
    for await (const m of call as AsyncIterable<Msg>) got.push(m.text);
    assert.deepEqual(got, ['s-0', 's-1', 's-2']);
  });

  test('client streaming', async () => {
    const res = await new Promise<Msg>((resolve, reject) => {
      const call = client(EchoClient).clientStream((err: grpc.ServiceError | null, r: Msg) => (err ? reject(err) : resolve(r)));
      for (const t of ['a', 'b', 'c']) call.write({ text: t });
      call.end();
    });
    assert.equal(res.text, 'a+b+c');
  });

  test('bidirectional streaming: each answer arrives before the next message is sent', async () => {
    const call = client(EchoClient).bidi();
    const it = (call as AsyncIterable<Msg>)[Symbol.asyncIterator]();
    for (const t of ['one', 'two', 'three']) {
      call.write({ text: t });
      const next = await it.next();
      assert.equal((next.value as Msg).text, `echo:${t}`);
    }
    call.end();
    assert.equal((await it.next()).done, true);
  });

  test("the server's own error status and message are kept", async () => {
    const err = await statusOf(unary(client(EchoClient), 'fail', { text: 'x' }));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'no such thing: ünïcode');
  });

  test('over a TLS listener (ALPN h2) to a grpcs:// target, key-auth on the route', async () => {
    const c = new SecuredClient(`localhost:${tlsPort}`, grpc.credentials.createSsl(certs.read('ca.crt')));
    clients.push(c);
    const md = new grpc.Metadata();
    md.set('apikey', 'alice-secret-key-1');
    const { res } = await unary(c, 'unary', { text: 'tls' }, md);
    // The key is hidden from the upstream; the identity is added.
    assert.equal(res.text, 'unary:tls:no-apikey:alice');
  });

  test('gateway answers are gRPC statuses: missing key UNAUTHENTICATED, no route UNIMPLEMENTED, upstream down UNAVAILABLE, rate limit RESOURCE_EXHAUSTED', async () => {
    const unauth = await statusOf(unary(client(SecuredClient), 'unary', { text: 'x' }));
    assert.equal(unauth.code, grpc.status.UNAUTHENTICATED);
    assert.equal(unauth.details, 'valid credentials are required');
    const wrongKey = new grpc.Metadata();
    wrongKey.set('apikey', 'not-a-key');
    assert.equal((await statusOf(unary(client(SecuredClient), 'unary', { text: 'x' }, wrongKey))).code, grpc.status.UNAUTHENTICATED);
    const none = await statusOf(unary(client(MissingClient), 'unary', { text: 'x' }));
    assert.equal(none.code, grpc.status.UNIMPLEMENTED);
    assert.equal(none.details, 'no route matches this request');
    const down = await statusOf(unary(client(DownClient), 'unary', { text: 'x' }));
    assert.equal(down.code, grpc.status.UNAVAILABLE);
    const limited = client(LimitedClient);
    assert.equal((await unary(limited, 'unary', { text: 'first' })).res.text, 'unary:first:no-apikey:');
    const over = await statusOf(unary(limited, 'unary', { text: 'second' }));
    assert.equal(over.code, grpc.status.RESOURCE_EXHAUSTED);
    // The plugin's headers stay beside the status (here the rate-limit ones).
    assert.ok(over.metadata.get('retry-after').length === 1, JSON.stringify(over.metadata.getMap()));
  });
});

describe('gRPC: an upstream failing mid-stream', () => {
  test('the client gets the messages sent so far, then UNAVAILABLE in trailers (not a reset)', async () => {
    const upstream = await startResettingUpstream();
    const gw = await startGateway(`
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }
services:
  - name: reset
    url: "grpc://127.0.0.1:${(upstream.address() as AddressInfo).port}"
    routes: [{ paths: ["/test.Reset/"] }]
`);
    const c = new ResetClient(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure()) as Any;
    try {
      const call = c.serverStream({ text: 'x' });
      const got: string[] = [];
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('data', (m: Msg) => got.push(m.text));
      call.on('error', () => undefined);
      const s = await status;
      assert.deepEqual(got, ['first']);
      assert.equal(s.code, grpc.status.UNAVAILABLE);
      assert.equal(s.details, 'the upstream could not be reached or failed');
    } finally {
      c.close();
      await gw.close();
      upstream.close();
    }
  });
});
