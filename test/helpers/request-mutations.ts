// A seeded generator of HTTP/1.1 request bytes for differential tests: valid requests of
// every common shape (bodies by Content-Length and chunked, trailers, upgrades) and mutated
// ones (methods, targets, versions, header syntax, framing, line ends), 1 to 3 per connection
// (pipelined), each connection ended by a sentinel request. Nothing here knows the gateway:
// a case is only bytes, so any HTTP/1.1 server (node's http, the gateway, another engine)
// can be fed the same cases. The same seed gives the same cases.
import { seededRandom } from './random.js';

/** One connection's worth of bytes. */
export interface Case {
  id: number;
  /** The requests written before the sentinel, and the mutations each got (for failure reports). */
  labels: string[][];
  bytes: Buffer;
  /** The target of the sentinel request that ends the case (its answer names it). */
  sentinel: string;
}

/** Every request of a case carries `x-case: <id>` as its first header (never mutated). */
export const CASE_HEADER = 'x-case';

interface Spec {
  method: string;
  target: string;
  version: string;
  /** Header lines after the x-case line, each already "name: value" (or anything). */
  lines: string[];
  body: Body;
  eol: string;
  /** Line end per header line index, when one differs from `eol`. */
  lineEol: Map<number, string>;
}

type Body = { kind: 'none' } | { kind: 'length'; data: string; declared: string[] } | { kind: 'chunked'; chunks: string[]; te: string[]; sizes: (n: number) => string; ext: string; trailers: string[]; tail: string };

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rand, p: number): boolean => r() < p;

const WORDS = ['items', 'orders', 'a', 'b-c', 'x_y', 'z.json', '7', 'caf'];
function word(r: Rand): string {
  return pick(r, WORDS);
}

function bodyText(r: Rand): string {
  const parts = ['{"a":1}', 'hello', '\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', '0\r\n\r\n', 'x'.repeat(1 + Math.floor(r() * 40)), '\u00e9'];
  let s = '';
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) s += pick(r, parts);
  return s;
}

/** A valid request of one of the common shapes. */
function base(r: Rand): { spec: Spec; label: string } {
  const kind = pick(r, ['get', 'get', 'head', 'delete', 'options', 'post-length', 'put-length', 'patch-length', 'post-chunked', 'put-chunked'] as const);
  const lines = ['Host: d.test', 'Accept: */*', 'User-Agent: differential/1'];
  const spec: Spec = { method: 'GET', target: `/d/${word(r)}?q=${Math.floor(r() * 100)}`, version: 'HTTP/1.1', lines, body: { kind: 'none' }, eol: '\r\n', lineEol: new Map() };
  if (kind === 'head') spec.method = 'HEAD';
  else if (kind === 'delete') spec.method = 'DELETE';
  else if (kind === 'options') spec.method = 'OPTIONS';
  else if (kind.endsWith('-length')) {
    spec.method = kind.split('-')[0]!.toUpperCase();
    const data = bodyText(r);
    spec.body = { kind: 'length', data, declared: [String(Buffer.byteLength(data, 'latin1'))] };
    lines.push('Content-Type: application/json');
  } else if (kind.endsWith('-chunked')) {
    spec.method = kind.split('-')[0]!.toUpperCase();
    const chunks: string[] = [];
    const n = 1 + Math.floor(r() * 3);
    for (let i = 0; i < n; i++) chunks.push(bodyText(r));
    spec.body = { kind: 'chunked', chunks, te: ['chunked'], sizes: (x) => x.toString(16), ext: '', trailers: [], tail: '' };
  }
  return { spec, label: kind };
}

type Mutation = (s: Spec, r: Rand) => void;

/** Each mutation makes a request odd in one way; node's parser accepts some and refuses others. */
const MUTATIONS: Record<string, Mutation> = {
  // Methods
  'method-lower': (s) => void (s.method = s.method.toLowerCase()),
  'method-unknown': (s) => void (s.method = 'BREW'),
  'method-other': (s, r) => void (s.method = pick(r, ['DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'PUT', 'POST', 'GET'])),
  'method-tab': (s) => void (s.method = `${s.method}\t`),
  // Targets
  'target-double-slash': (s) => void (s.target = s.target.replace('/d/', '/d//')),
  'target-pct-unreserved': (s, r) => void (s.target = s.target.replace('/d/', pick(r, ['/%64/', '/%44/', '/d%2Dx/', '/d/%7e']))),
  'target-pct-slash': (s, r) => void (s.target = s.target.replace('/d/', pick(r, ['/d%2F', '/d%2f']))),
  'target-dot': (s, r) => void (s.target = s.target.replace('/d/', pick(r, ['/d/./', '/d/../', '/d/%2e%2e/', '/d/.%2E/']))),
  'target-absolute': (s, r) => void (s.target = `${pick(r, ['http://d.test', 'http://D.TEST', 'http://other.test', 'https://d.test:443'])}${s.target}`),
  'target-fragment': (s) => void (s.target += '#frag'),
  'target-space': (s) => void (s.target = s.target.replace('/d/', '/d /')),
  'target-ctl': (s) => void (s.target = s.target.replace('/d/', '/d\x01/')),
  'target-query-odd': (s, r) => void (s.target += pick(r, ['&a=%zz', '&b=<>', '&c="', '&d=|', '&e={}'])),
  'target-star': (s) => void (s.target = '*'),
  'target-utf8': (s) => void (s.target = s.target.replace('/d/', '/d/\u00c3\u00a9/')),
  'target-backslash': (s) => void (s.target = s.target.replace('/d/', '/d\\x/')),
  // Versions
  'version-1.0': (s) => void (s.version = 'HTTP/1.0'),
  'version-odd': (s, r) => void (s.version = pick(r, ['http/1.1', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/1.1 ', 'HTTP/1.10', 'HTTP/11'])),
  // Host
  'host-duplicate': (s) => void s.lines.push('Host: d.test'),
  'host-missing': (s) => void (s.lines = s.lines.filter((l) => !l.startsWith('Host:'))),
  'host-empty': (s) => void (s.lines = s.lines.map((l) => (l.startsWith('Host:') ? 'Host:' : l))),
  'host-odd': (s, r) => void (s.lines = s.lines.map((l) => (l.startsWith('Host:') ? `Host: ${pick(r, ['d.test:8080', 'D.Test', 'u@d.test', 'd.test.', '[::1]:80', 'd_test', 'd.test:99999'])}` : l))),
  // Header syntax
  'header-space-before-colon': (s) => void s.lines.push('X-A : v'),
  'header-bad-name': (s, r) => void s.lines.push(pick(r, ['X(A): v', ': v', 'X A: v', 'X\u00e9: v'])),
  'header-obs-fold': (s) => void s.lines.push('X-Fold: a', ' b'),
  'header-value-odd': (s, r) => void s.lines.push(`X-Value: ${pick(r, ['a\tb', 'caf\u00e9', 'a\x00b', 'a\rb', '   padded   ', 'a\x7fb', ''])}`),
  'header-duplicate': (s) => void s.lines.push('X-Dup: 1', 'X-Dup: 2'),
  'header-case': (s) => void s.lines.push('x-MiXeD-CaSe: Value'),
  'header-long': (s) => void s.lines.push(`X-Long: ${'v'.repeat(2000)}`),
  'header-lf-only': (s) => void (s.eol = '\n'),
  'header-one-lf': (s) => void s.lineEol.set(0, '\n'),
  'header-no-colon': (s) => void s.lines.push('X-NoColon'),
  // Connection-level headers
  'connection-close': (s) => void s.lines.push('Connection: close'),
  'connection-keep-alive': (s) => void s.lines.push('Connection: keep-alive', 'Keep-Alive: timeout=5'),
  'connection-listed': (s) => void s.lines.push('Connection: x-hop', 'X-Hop: 1'),
  'te-trailers': (s) => void s.lines.push('TE: trailers'),
  'proxy-connection': (s) => void s.lines.push('Proxy-Connection: keep-alive'),
  expect: (s) => void s.lines.push('Expect: 100-continue'),
  'forwarded-headers': (s) => void s.lines.push('X-Forwarded-For: 1.2.3.4', 'X-Forwarded-Host: evil.test'),
  // Framing
  'length-duplicate-same': (s) => {
    if (s.body.kind === 'length') s.body.declared.push(s.body.declared[0]!);
  },
  'length-duplicate-different': (s) => {
    if (s.body.kind === 'length') s.body.declared.push(String(Number(s.body.declared[0]) + 1));
  },
  'length-odd': (s, r) => {
    if (s.body.kind === 'length') s.body.declared[0] = pick(r, [`+${s.body.declared[0]}`, `0${s.body.declared[0]}`, `${s.body.declared[0]}, ${s.body.declared[0]}`, `${s.body.declared[0]} `, `0x${Number(s.body.declared[0]).toString(16)}`]);
  },
  'length-short': (s) => {
    if (s.body.kind === 'length' && Number(s.body.declared[0]) > 1) s.body.declared[0] = String(Number(s.body.declared[0]) - 1);
  },
  'length-and-chunked': (s) => {
    if (s.body.kind === 'chunked') s.lines.push('Content-Length: 3');
    else if (s.body.kind === 'length') s.lines.push('Transfer-Encoding: chunked');
  },
  'chunked-te-odd': (s, r) => {
    if (s.body.kind === 'chunked') s.body.te = pick(r, [['gzip, chunked'], ['chunked, gzip'], ['chunked', 'chunked'], ['Chunked'], ['xchunked'], ['chunked '], ['identity, chunked']]);
  },
  'chunked-extension': (s, r) => {
    if (s.body.kind === 'chunked') s.body.ext = pick(r, [';a=b', ';a="q"', ' ;a', ';a=b;c', ';\u00e9']);
  },
  'chunked-sizes': (s, r) => {
    if (s.body.kind === 'chunked') {
      const form = pick(r, ['upper', 'zeros', 'space', 'bad'] as const);
      s.body.sizes = form === 'upper' ? (n) => n.toString(16).toUpperCase() : form === 'zeros' ? (n) => `000${n.toString(16)}` : form === 'space' ? (n) => `${n.toString(16)} ` : () => 'zz';
    }
  },
  'chunked-trailers': (s, r) => {
    if (s.body.kind === 'chunked') {
      s.body.trailers = pick(r, [['X-Digest: 123'], ['X-A: 1', 'X-B: 2'], ['Content-Length: 5'], ['X Bad: 1']]);
      if (chance(r, 0.5)) s.lines.push(`Trailer: ${s.body.trailers[0]!.split(':')[0]}`);
    }
  },
  'chunked-tail': (s, r) => {
    if (s.body.kind === 'chunked') s.body.tail = pick(r, ['', 'junk', '\r\n']);
  },
  'body-on-bodiless': (s, r) => {
    if (s.body.kind === 'none') {
      const data = bodyText(r);
      s.body = { kind: 'length', data, declared: [String(Buffer.byteLength(data, 'latin1'))] };
    }
  },
  // Upgrades
  'upgrade-websocket': (s, r) => {
    s.lines.push(pick(r, ['Connection: Upgrade', 'Connection: keep-alive, Upgrade', 'connection: upgrade']), `Upgrade: ${pick(r, ['websocket', 'WebSocket'])}`, 'Sec-WebSocket-Version: 13');
    if (chance(r, 0.8)) s.lines.push('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
  },
  'upgrade-websocket-get': (s, r) => {
    s.method = 'GET';
    s.body = { kind: 'none' };
    MUTATIONS['upgrade-websocket']!(s, r);
  },
  'upgrade-h2c': (s) => void s.lines.push('Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'),
  'upgrade-without-connection': (s) => void s.lines.push('Upgrade: websocket'),
};

const NAMES = Object.keys(MUTATIONS);

function serialize(id: number, s: Spec): string {
  const eolAt = (i: number) => s.lineEol.get(i) ?? s.eol;
  let out = `${s.method} ${s.target} ${s.version}${s.eol}${CASE_HEADER}: ${id}${s.eol}`;
  s.lines.forEach((l, i) => (out += l + eolAt(i)));
  const b = s.body;
  if (b.kind === 'length') {
    for (const d of b.declared) out += `Content-Length: ${d}${s.eol}`;
    out += s.eol + b.data;
  } else if (b.kind === 'chunked') {
    for (const te of b.te) out += `Transfer-Encoding: ${te}${s.eol}`;
    out += s.eol;
    for (const c of b.chunks) out += `${b.sizes(Buffer.byteLength(c, 'latin1'))}${b.ext}\r\n${c}\r\n`;
    out += '0\r\n';
    for (const t of b.trailers) out += `${t}\r\n`;
    out += '\r\n' + b.tail;
  } else {
    out += s.eol;
  }
  return out;
}

/** `count` cases from `seed`: about a third valid, the rest with one to three mutations per request. */
export function generateCases(seed: number, count: number): Case[] {
  const r = seededRandom(seed);
  const cases: Case[] = [];
  for (let id = 0; id < count; id++) {
    const n = chance(r, 0.6) ? 1 : chance(r, 0.6) ? 2 : 3;
    const labels: string[][] = [];
    let text = '';
    for (let k = 0; k < n; k++) {
      const { spec, label } = base(r);
      const applied = [label];
      const m = chance(r, 0.35) ? 0 : 1 + Math.floor(r() * 3);
      for (let j = 0; j < m; j++) {
        const name = pick(r, NAMES);
        MUTATIONS[name]!(spec, r);
        applied.push(name);
      }
      labels.push(applied);
      text += serialize(id, spec);
    }
    const sentinel = `/__end/${id}`;
    text += `GET ${sentinel} HTTP/1.1\r\n${CASE_HEADER}: ${id}\r\nHost: sentinel.test\r\n\r\n`;
    cases.push({ id, labels, bytes: Buffer.from(text, 'latin1'), sentinel });
  }
  return cases;
}
