// The `compression` plugin: gzip / brotli by Accept-Encoding, streamed with backpressure.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, createGunzip, gunzipSync } from 'node:zlib';
import { chooseEncoding } from '../../src/plugins/compression/plugin.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'c.yaml');

describe('compression plugin schema and negotiation', () => {
  test('bad content types, unknown encodings and levels are refused with their paths', () => {
    const lines = problemsOf(routeWithPlugin('compression', '{ encodings: [deflate], content_types: ["text"], gzip_level: 12 }'));
    assert.ok(lines.some((l) => /^c\.yaml:8:\d+ .*compression\.encodings\[0\]/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /compression\.content_types\[0\]: must be a media type/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /compression\.gzip_level/.test(l)), lines.join('\n'));
  });

  test('Accept-Encoding q-values: highest q wins, ties go to the configured order, q=0 forbids', () => {
    const both = ['br', 'gzip'] as const;
    assert.equal(chooseEncoding('gzip, deflate, br', [...both]), 'br');
    assert.equal(chooseEncoding('gzip, br', ['gzip', 'br']), 'gzip');
    assert.equal(chooseEncoding('br;q=0.5, gzip;q=0.8', [...both]), 'gzip');
    assert.equal(chooseEncoding('br;q=0, gzip', [...both]), 'gzip');
    assert.equal(chooseEncoding('gzip;q=0', [...both]), null);
    assert.equal(chooseEncoding('*', [...both]), 'br');
    assert.equal(chooseEncoding('*;q=0.1, br;q=0', [...both]), 'gzip');
    assert.equal(chooseEncoding('identity', [...both]), null);
    assert.equal(chooseEncoding('x-gzip', [...both]), 'gzip');
    assert.equal(chooseEncoding(undefined, [...both]), null);
    assert.equal(chooseEncoding(' , ;q=, GZIP ; Q=1', [...both]), 'gzip');
  });
});

const TEXT = Buffer.from(JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item number ${i}` })) }));
const BIG = 48 * 1024 * 1024;

// On real sockets: the backpressure test needs socket buffers that fill up, and fetch() is the real client.
describe('compression plugin behaviour', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  let big: Buffer;
  const flow = { written: 0, blocked: false };
  before(async () => {
    big = randomBytes(BIG);
    up = await startUpstream((req, res) => {
      const path = req.url!;
      if (path === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream+json' });
        let at = 0;
        const pump = (): void => {
          while (at < big.length) {
            const slice = big.subarray(at, at + 65536);
            at += slice.length;
            flow.written = at;
            if (!res.write(slice)) {
              flow.blocked = true;
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        return pump();
      }
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', etag: '"v1"', vary: 'Origin' };
      if (path === '/encoded') headers['content-encoding'] = 'gzip';
      if (path === '/no-transform') headers['cache-control'] = 'public, no-transform';
      if (path === '/png') headers['content-type'] = 'image/png';
      if (path === '/empty') return res.writeHead(204).end();
      if (path === '/not-modified') return res.writeHead(304, { etag: '"v1"' }).end();
      if (path === '/small') return res.writeHead(200, { ...headers, 'content-length': '7' }).end('{"a":1}');
      if (path === '/chunked') {
        res.writeHead(200, headers);
        res.write(TEXT.subarray(0, 100));
        return res.end(TEXT.subarray(100));
      }
      headers['content-length'] = String(TEXT.length);
      res.writeHead(200, headers).end(TEXT);
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${up.url}"
    routes:
      - paths: ["/big"]
        plugins: { compression: { gzip_level: 1, content_types: ["+json"] } }
      - paths: ["/"]
        plugins: { compression: {} }
`);
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  const get = (path: string, ae?: string, method = 'GET') => http(gw.url + path, { method, headers: ae === undefined ? {} : { 'accept-encoding': ae } });
  const getRaw = (path: string, ae: string): Promise<{ res: IncomingMessage; body: Buffer }> =>
    new Promise((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: gw.port, path, headers: { 'accept-encoding': ae }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });

  test('gzip and brotli bodies decompress to the upstream bytes; headers say so', async () => {
    const gz = await getRaw('/doc', 'gzip');
    assert.equal(gz.res.headers['content-encoding'], 'gzip');
    assert.equal(gz.res.headers['content-length'], undefined);
    assert.equal(gz.res.headers['vary'], 'Origin, Accept-Encoding');
    assert.equal(gz.res.headers['etag'], 'W/"v1"', 'a strong ETag is weakened');
    assert.ok(gz.body.length < TEXT.length / 2);
    assert.deepEqual(gunzipSync(gz.body), TEXT);
    const br = await getRaw('/doc', 'gzip, deflate, br');
    assert.equal(br.res.headers['content-encoding'], 'br', 'br preferred when both are allowed');
    assert.deepEqual(brotliDecompressSync(br.body), TEXT);
    const viaFetch = await fetch(gw.url + '/chunked', { headers: { 'accept-encoding': 'br' } });
    assert.equal(viaFetch.headers.get('content-encoding'), 'br');
    assert.deepEqual(Buffer.from(await viaFetch.arrayBuffer()), TEXT, 'a real client decompresses a chunked (unknown-length) body');
  });

  test('q=0 is respected; no acceptable coding means identity (with Vary)', async () => {
    const r = await getRaw('/doc', 'br;q=0, gzip;q=0');
    assert.equal(r.res.headers['content-encoding'], undefined);
    assert.equal(r.res.headers['content-length'], String(TEXT.length));
    assert.equal(r.res.headers['vary'], 'Origin, Accept-Encoding');
    assert.deepEqual(r.body, TEXT);
    assert.equal((await getRaw('/doc', 'br;q=0, gzip')).res.headers['content-encoding'], 'gzip');
    assert.equal((await get('/doc')).headers['content-encoding'], undefined, 'no Accept-Encoding: identity');
  });

  test('skipped: already encoded, no-transform, small, not listed type, HEAD, 204, 304', async () => {
    for (const path of ['/no-transform', '/small', '/png']) {
      const r = await getRaw(path, 'gzip, br');
      assert.equal(r.res.headers['content-encoding'], undefined, path);
      assert.equal(r.res.headers['etag'], '"v1"', path);
    }
    const encoded = await getRaw('/encoded', 'br');
    assert.equal(encoded.res.headers['content-encoding'], 'gzip', 'the upstream encoding is kept as is');
    const head = await get('/doc', 'gzip', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(head.headers['content-length'], String(TEXT.length));
    assert.equal((await get('/empty', 'gzip')).headers['content-encoding'], undefined);
    const nm = await get('/not-modified', 'gzip');
    assert.equal(nm.status, 304);
    assert.equal(nm.headers['content-encoding'], undefined);
  });

  test('a large body streams with backpressure: a paused client stalls the upstream; the bytes arrive intact', async () => {
    flow.written = 0;
    flow.blocked = false;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: gw.port, path: '/big', headers: { 'accept-encoding': 'gzip' }, agent: false }, resolve).on('error', reject).end();
    });
    assert.equal(res.headers['content-encoding'], 'gzip');
    res.pause();
    // The upstream stalls once every buffer on the way is full; wait until it stops advancing.
    let last = -1;
    let still = 0;
    for (let i = 0; i < 400 && still < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      still = flow.written === last && flow.blocked ? still + 1 : 0;
      last = flow.written;
    }
    assert.ok(flow.written < BIG, `the upstream wrote ${flow.written} of ${BIG} bytes while the client read nothing`);
    const hash = createHash('sha256');
    const gunzip = res.pipe(createGunzip());
    for await (const c of gunzip) hash.update(c as Buffer);
    assert.equal(hash.digest('hex'), createHash('sha256').update(big).digest('hex'));
  });
});
