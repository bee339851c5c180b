// pipeResponseBody (response streams installed by plugins) against real sockets: done()
// runs exactly once however the body ends — whole, a stream closed early without an error,
// or a client that was gone before the pipe was set up.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { RequestContext } from '../../src/proxy/context.js';
import { pipeResponseBody } from '../../src/proxy/response-body.js';

interface Outcome {
  readonly calls: number;
  readonly errorCode: string | null;
  readonly destroyed: boolean;
}

/** One request to a server whose handler hands its response to `handle`; resolves with what done() saw. */
async function run(handle: (res: ServerResponse, ctx: RequestContext, done: () => void) => void, abortFirst = false): Promise<Outcome> {
  let calls = 0;
  let resolveDone!: (o: Outcome) => void;
  const finished = new Promise<Outcome>((r) => (resolveDone = r));
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    const ctx = { res, errorCode: null, bytesOut: 0 } as unknown as RequestContext;
    const done = (): void => {
      calls++;
      // A second call would land after this one: wait a turn before reporting.
      setImmediate(() => resolveDone({ calls, errorCode: ctx.errorCode, destroyed: res.destroyed }));
    };
    if (abortFirst) {
      res.once('close', () => handle(res, ctx, done));
      _req.socket.emit('test:abort');
    } else handle(res, ctx, done);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, agent: false });
  req.on('error', () => undefined);
  req.on('response', (r) => r.resume().on('error', () => undefined));
  if (abortFirst) server.once('connection', (s) => s.once('test:abort', () => req.destroy()));
  req.end();
  const outcome = await finished;
  server.closeAllConnections();
  server.close();
  return outcome;
}

test('a whole body: done once, no error', async () => {
  const o = await run((res, ctx, done) => {
    res.writeHead(200);
    const t = new PassThrough();
    pipeResponseBody(ctx, [t], done).end('hello');
  });
  assert.equal(o.calls, 1);
  assert.equal(o.errorCode, null);
});

test('a response stream destroyed without an error before its end: done once, the client connection is cut', async () => {
  const o = await run((res, ctx, done) => {
    res.writeHead(200);
    const t = new PassThrough();
    pipeResponseBody(ctx, [t], done).write('part');
    setImmediate(() => t.destroy());
  });
  assert.equal(o.calls, 1);
  assert.equal(o.destroyed, true);
});

test('a client gone before the pipe is set up: done once, as client-closed', async () => {
  const o = await run((_res, ctx, done) => {
    const t = new PassThrough();
    pipeResponseBody(ctx, [t], done);
  }, true);
  assert.deepEqual(o, { calls: 1, errorCode: 'client-closed', destroyed: true });
});
