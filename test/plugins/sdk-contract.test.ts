// The SDK's contract with the core, at its edges: a LocalReply from a second copy of the SDK
// (an extension package with its own node_modules/northgate) still ends the request, any
// other result of a request hook fails closed, a problem's body says the HTTP status, the
// request body is read once for every plugin that asks and still reaches the upstream, and
// importing the SDK does not load the native regex engine. Through a real gateway.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { LocalReply, localKey, type ErrorCode, type Plugin, type PluginContext } from '../../src/sdk/index.js';
import { http, startGateway, startUpstream, TEST_ENGINE, type InProcessGateway, type Upstream } from '../helpers/servers.js';

type LocalReplyModule = typeof import('../../src/sdk/local-reply.js');

/** What the upstream received of one request. */
interface Received {
  length: number;
  sha256: string;
  body: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('the SDK contract, through a gateway', () => {
  let upstream: Upstream;
  let gw: InProcessGateway;
  let copy: LocalReplyModule;
  let upstreamHits = 0;
  /** What each reader plugin's readRequestBody resolved to (length, or null), by the request's x-case. */
  const reads = new Map<string, Array<number | string | null>>();
  const bugs: unknown[] = [];
  const onError = (m: unknown) => bugs.push((m as { error: unknown }).error);

  const gate: Plugin = {
    name: 'contract-gate',
    priority: 5000,
    schema: { type: 'object' },
    create: () => ({
      request(ctx) {
        switch (ctx.header('x-answer')) {
          case 'copy-error':
            return copy.LocalReply.error('unauthorized', 'no credentials') as LocalReply;
          case 'copy-problem-async':
            return Promise.resolve(copy.LocalReply.problem(403, 'team-forbidden', 'Team Forbidden') as LocalReply);
          case '42':
            return 42 as unknown as undefined;
          case '42-async':
            return Promise.resolve(42 as unknown as undefined);
          case 'null':
            return null as unknown as undefined;
          case 'object':
            return { status: 200 } as unknown as undefined;
          case 'teapot':
            return LocalReply.problem(418, 'unauthorized', 'I Am A Teapot', 'short and stout');
          case 'inherited-code':
            return LocalReply.error('toString' as ErrorCode);
          default:
            return undefined;
        }
      },
    }),
  };

  /** Reads the body with its `limit`; `replace` sends the body upstream with "!" appended. */
  const reader = (name: string, priority: number): Plugin<{ limit: number; replace?: boolean }> => ({
    name,
    priority,
    schema: { type: 'object', required: ['limit'], properties: { limit: { type: 'integer' }, replace: { type: 'boolean' } } },
    create: (cfg) => ({
      request(ctx) {
        return ctx.readRequestBody(cfg.limit).then((body) => {
          const key = ctx.header('x-case') ?? '';
          reads.set(key, [...(reads.get(key) ?? []), body === null ? null : body.length]);
          if (body !== null && cfg.replace === true) ctx.requestBody = Buffer.concat([body, Buffer.from('!')]);
          return undefined;
        });
      },
    }),
  });

  /** Tries bufferedRequestBody first: records 'now:<length|null>' when it answered, 'later:<…>' when the read had to wait. */
  const syncReader: Plugin<{ limit: number }> = {
    name: 'sync-reader',
    priority: 950,
    schema: { type: 'object', required: ['limit'], properties: { limit: { type: 'integer' } } },
    create: (cfg) => ({
      request(ctx) {
        const key = ctx.header('x-case') ?? '';
        const note = (when: string, body: Buffer | null) => reads.set(key, [...(reads.get(key) ?? []), `${when}:${body === null ? 'null' : body.length}`]);
        const now = ctx.bufferedRequestBody(cfg.limit);
        if (now !== undefined) {
          note('now', now);
          // Asked again, and through readRequestBody: the same once-only read.
          assert.equal(ctx.bufferedRequestBody(cfg.limit), now);
          return ctx.readRequestBody(cfg.limit).then((again) => void assert.equal(again, now));
        }
        return ctx.readRequestBody(cfg.limit).then((body) => {
          note('later', body);
          assert.equal(ctx.bufferedRequestBody(cfg.limit), body);
          return undefined;
        });
      },
    }),
  };

  before(async () => {
    copy = (await import(new URL('../../src/sdk/local-reply.js?copy', import.meta.url).href)) as LocalReplyModule;
    subscribe('northgate:request:error', onError);
    upstream = await startUpstream((req, res) => {
      upstreamHits++;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ length: body.length, sha256: sha256(body), body: body.length <= 64 ? body.toString('latin1') : '' } satisfies Received));
      });
    });
    gw = await startGateway(
      `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: up
    url: "${upstream.url}"
    routes:
      - { name: gated, paths: ["/gated"], plugins: { contract-gate: {} } }
      - { name: one, paths: ["/one"], plugins: { reader-a: { limit: 1000000 } } }
      - { name: two, paths: ["/two"], plugins: { reader-a: { limit: 1000000 }, reader-b: { limit: 1000000 } } }
      - { name: small, paths: ["/small"], plugins: { reader-a: { limit: 10 }, reader-b: { limit: 1000000 } } }
      - { name: replaced, paths: ["/replaced"], plugins: { reader-a: { limit: 1000000, replace: true }, reader-b: { limit: 1000000 } } }
      - { name: sync, paths: ["/sync"], plugins: { sync-reader: { limit: 1000000 }, reader-b: { limit: 1000000 } } }
      - { name: sync-small, paths: ["/sync-small"], plugins: { sync-reader: { limit: 10 }, reader-b: { limit: 1000000 } } }
`,
      [gate, reader('reader-a', 900) as Plugin, reader('reader-b', 800) as Plugin, syncReader as Plugin],
    );
  });
  after(async () => {
    unsubscribe('northgate:request:error', onError);
    await gw?.close();
    await upstream?.close();
  });

  test('a LocalReply of a second copy of the SDK ends the request (sync and async); the upstream is not reached', async () => {
    assert.notEqual(copy.LocalReply, LocalReply);
    const hits = upstreamHits;
    const denied = await http(`${gw.url}/gated`, { headers: { 'x-answer': 'copy-error' } });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['content-type'], 'application/problem+json');
    assert.deepEqual(JSON.parse(denied.body), { type: 'urn:northgate:problem:unauthorized', title: 'Unauthorized', status: 401, detail: 'no credentials', request_id: denied.headers['x-request-id'] });
    const forbidden = await http(`${gw.url}/gated`, { headers: { 'x-answer': 'copy-problem-async' } });
    assert.equal(forbidden.status, 403);
    assert.equal((JSON.parse(forbidden.body) as { type: string }).type, 'urn:northgate:problem:team-forbidden');
    assert.equal(upstreamHits, hits);
  });

  test('a request hook returning anything else (42, null, a plain object; sync or async) is a bug: 500, reported, never forwarded', async () => {
    const hits = upstreamHits;
    bugs.length = 0;
    for (const answer of ['42', '42-async', 'null', 'object']) {
      const r = await http(`${gw.url}/gated`, { headers: { 'x-answer': answer } });
      assert.equal(r.status, 500, answer);
      assert.equal((JSON.parse(r.body) as { type: string }).type, 'urn:northgate:problem:internal-error', answer);
    }
    assert.equal(upstreamHits, hits);
    assert.equal(bugs.length, 4);
    for (const err of bugs) assert.match((err as Error).message, /a request hook returned .*: it must return undefined, a LocalReply or a Promise of one/);
    const ok = await http(`${gw.url}/gated`);
    assert.equal(ok.status, 200);
    assert.equal(upstreamHits, hits + 1);
  });

  test("a problem's body says the HTTP status and the plugin's title, also with a code of the error table", async () => {
    const r = await http(`${gw.url}/gated`, { headers: { 'x-answer': 'teapot' } });
    assert.equal(r.status, 418);
    const body = JSON.parse(r.body) as { status: number; title: string; detail: string };
    assert.equal(body.status, 418);
    assert.equal(body.title, 'I Am A Teapot');
    assert.equal(body.detail, 'short and stout');
  });

  test('LocalReply.error takes only codes of the table itself, not names every object inherits', async () => {
    assert.throws(() => LocalReply.error('toString' as ErrorCode), TypeError);
    assert.throws(() => LocalReply.error('constructor' as ErrorCode), TypeError);
    const r = await http(`${gw.url}/gated`, { headers: { 'x-answer': 'inherited-code' } });
    assert.equal(r.status, 500);
  });

  test('a plugin that reads the body without replacing it: the upstream gets the exact bytes (length-delimited and chunked)', { timeout: 20_000 }, async () => {
    const bytes = randomBytes(3000);
    const sized = await http(`${gw.url}/one`, { method: 'POST', headers: { 'x-case': 'one-sized', 'content-length': String(bytes.length) }, body: bytes });
    assert.equal(sized.status, 200);
    assert.deepEqual(JSON.parse(sized.body), { length: 3000, sha256: sha256(bytes), body: '' } satisfies Received);
    assert.deepEqual(reads.get('one-sized'), [3000]);
    const chunked = await http(`${gw.url}/one`, { method: 'POST', headers: { 'x-case': 'one-chunked', 'transfer-encoding': 'chunked' }, body: bytes });
    assert.equal(chunked.status, 200);
    assert.equal((JSON.parse(chunked.body) as Received).sha256, sha256(bytes));
    assert.deepEqual(reads.get('one-chunked'), [3000]);
  });

  test('two plugins read the body: both get it, the upstream gets it once, whole', { timeout: 20_000 }, async () => {
    const bytes = randomBytes(5000);
    const r = await http(`${gw.url}/two`, { method: 'POST', headers: { 'x-case': 'two' }, body: bytes });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Received).sha256, sha256(bytes));
    assert.deepEqual(reads.get('two'), [5000, 5000]);
  });

  test("a replacement wins over the body read: the later reader sees the client's body, the upstream the replacement", { timeout: 20_000 }, async () => {
    const r = await http(`${gw.url}/replaced`, { method: 'POST', headers: { 'x-case': 'replaced' }, body: 'hello' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Received).body, 'hello!');
    assert.deepEqual(reads.get('replaced'), [5, 5]);
  });

  test('a body over the limit: the reader gets null (and so does a later one), the upstream the body streamed untouched', { timeout: 20_000 }, async () => {
    const bytes = randomBytes(4000);
    const r = await http(`${gw.url}/small`, { method: 'POST', headers: { 'x-case': 'small' }, body: bytes });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { length: 4000, sha256: sha256(bytes), body: '' } satisfies Received);
    assert.deepEqual(reads.get('small'), [null, null]);
  });

  test('Expect: 100-continue with two readers: one 100, then the body, read once and forwarded', { timeout: 20_000 }, async () => {
    const text = await expectContinue(gw.port, 'POST /two HTTP/1.1\r\nHost: a\r\nx-case: continue\r\nExpect: 100-continue\r\nContent-Length: 10\r\nConnection: close\r\n\r\n', '0123456789');
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    assert.equal(text.split('HTTP/1.1 100').length - 1, 1);
    assert.equal((JSON.parse(text.slice(text.lastIndexOf('\r\n\r\n') + 4)) as Received).body, '0123456789');
    assert.deepEqual(reads.get('continue'), [10, 10]);
  });

  test('bufferedRequestBody: a body in the same read as the head is there at once, read once, shared and forwarded', { timeout: 20_000 }, async () => {
    const post = (path: string, key: string, body: string, chunked = false) =>
      `POST ${path} HTTP/1.1\r\nHost: a\r\nx-case: ${key}\r\n${chunked ? `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : `Content-Length: ${body.length}\r\n\r\n${body}`}`;
    const answers = (text: string) => text.split(/HTTP\/1\.1 /).slice(1).map((r) => [Number(r.slice(0, 3)), (JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4).replace(/HTTP.*$/s, '')) as Received).body]);
    // One write, three requests: each body arrives with its head.
    const text = await converse(gw.port, post('/sync', 'with-head', 'hello') + post('/sync', 'chunked-with-head', 'chunky', true) + post('/sync-small', 'over', 'x'.repeat(40)), (t) => t.split('HTTP/1.1 ').length === 4 && t.endsWith('}'));
    assert.deepEqual(answers(text), [[200, 'hello'], [200, 'chunky'], [200, 'x'.repeat(40)]]);
    // node:http hands the request over before its body: there the read waits.
    const at = TEST_ENGINE === 'native' ? 'now' : 'later';
    assert.deepEqual(reads.get('with-head'), [`${at}:5`, 5]);
    assert.deepEqual(reads.get('chunked-with-head'), [`${at}:6`, 6]);
    assert.deepEqual(reads.get('over'), [`${at}:null`, null], 'over the first limit: null for both, the body streamed on');
  });

  test('bufferedRequestBody: a body still on its way is left to readRequestBody', { timeout: 20_000 }, async () => {
    const text = await expectContinue(gw.port, 'POST /sync HTTP/1.1\r\nHost: a\r\nx-case: waited\r\nExpect: 100-continue\r\nContent-Length: 10\r\nConnection: close\r\n\r\n', '0123456789');
    assert.equal((JSON.parse(text.slice(text.lastIndexOf('\r\n\r\n') + 4)) as Received).body, '0123456789');
    assert.deepEqual(reads.get('waited'), ['later:10', 10]);
  });
});

/** Writes `bytes` in one write; everything received until `done` says so (or the server closes, or 5 s pass). */
function converse(port: number, bytes: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (done(text)) socket.destroy();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

/** Sends `head`, and `body` once a 100 Continue came; everything received until the server closes. */
function expectContinue(port: number, head: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!sent && /^HTTP\/1\.1 100 [^\r]*\r\n\r\n/.test(text)) {
        sent = true;
        socket.write(body);
      }
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.write(head);
  });
}

test('importing the SDK does not load the native regex engine; the first compiled pattern does', () => {
  const sdk = new URL('../../src/sdk/index.js', import.meta.url).href;
  const script = `
    const opened = [];
    const dlopen = process.dlopen;
    process.dlopen = function (module, file, ...rest) { opened.push(String(file)); return dlopen.call(this, module, file, ...rest); };
    const sdk = await import(${JSON.stringify(sdk)});
    const before = opened.some((f) => /re2/.test(f));
    const re = sdk.compileConfigRegex('^a+$');
    console.log(JSON.stringify({ before, after: opened.some((f) => /re2/.test(f)), matches: re.test('aaa') }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { before: false, after: true, matches: true });
});

// Type-level checks (compiled by tsc, never run): typed per-request state, read-only client headers.
export function typeChecks(ctx: PluginContext): void {
  const kCount = localKey<{ n: number }>('count');
  ctx.setLocal(kCount, { n: 1 });
  const n: number | undefined = ctx.local(kCount)?.n;
  // @ts-expect-error a value of another type under a typed key
  ctx.setLocal(kCount, 'one');
  // @ts-expect-error a typed key's value is not a string
  const s: string | undefined = ctx.local(kCount);
  const untyped: unknown = ctx.local('by-name');
  // @ts-expect-error the client's headers are read-only (edit upstreamHeaders)
  ctx.headers['x-added'] = 'no';
  void n;
  void s;
  void untyped;
}
