// A seeded generator of malformed and odd HTTP/1 requests, for fuzz tests that send them
// over raw sockets. Each case starts from a well-formed request (method, target, version,
// header fields, body) and gets one to three structural mutations (odd methods, versions
// and targets, duplicated or conflicting framing headers, bad chunk sizes, CR/LF/NUL in
// names and values, obs-fold, absolute-form, `*`, CONNECT…), then sometimes a few byte-level
// ones (flips, inserted control bytes, cuts). The same seed gives the same cases.
import { seededRandom } from './random.js';

export interface FuzzCase {
  /** What was done to the base request, for failure messages. */
  readonly mutations: string[];
  readonly bytes: Buffer;
}

interface Draft {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: string;
  /** Line ending between head lines. */
  eol: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PRI', 'get', 'G T', 'GETT', 'M-SEARCH', 'PURGE', 'LINK', 'X'.repeat(300), 'G\u00c4T', '', 'SOURCE', 'QUERY', 'ACL'];
const TARGETS = [
  '/', '/echo', '*', 'http://a/echo', 'https://a:443/echo?x=1', 'HTTP://A/echo', 'a:80', 'a', '//x/y', '/%00', '/%zz', '/%2e%2e/x', '/../etc/passwd', '/a/./b', '/a\\b',
  '/?#frag', '/echo#x', '/echo?x=%', '/' + 'a'.repeat(9000), '/ a', 'http://evil.example/echo', 'http://a', 'http:/a', 'ftp://a/x', '/echo?\u00e9', '\u00e9', '/echo\t', '',
  'http://a@b/echo', 'http://[::1]/echo', 'http://a:99999/echo', '/echo;x', '/echo?' + '&'.repeat(2000),
];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/3.0', 'HTTP/9.9', 'HTTP/1.10', 'http/1.1', 'HTTP/1', 'HTTP/ 1.1', '', 'HTTP/1.1 extra', 'HTTP/11.1', 'HTTP/1.1\u0000', 'HTTPS/1.1', 'HTTP/1.1 ', 'HTTP/0.0', 'HTTP/a.b'];
const HOSTS = ['a', 'a:80', 'A.', '', 'a b', 'a:99999', '[::1', '[::1]:8', 'a,b', 'a/b', 'a@b', 'a\u0000b', '\u00e9', 'x'.repeat(300), '127.0.0.1', 'a:', ':80', 'a..b'];
const LENGTHS = ['0', '5', '-1', '1e3', ' 5', '0x10', '18446744073709551616', '5, 5', '5,6', '+5', '05', '', '99999999999', '3 3', '5\u0000'];
const ENCODINGS = ['chunked', 'chunked, chunked', 'gzip', 'gzip, chunked', 'chunked, gzip', 'identity', 'chunked\u0000', ' chunked', 'xchunked', 'Chunked', 'CHUNKED', 'chunked;q=1', '', 'chunked\t'];
const CHUNKED_BODIES = ['0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\nhello\r\n0\r\n\r\n', '-1\r\nx\r\n0\r\n\r\n', 'ffffffffffffffffffff\r\nx\r\n0\r\n\r\n', '5;ext=1\r\nhello\r\n0\r\n\r\n', '5 \r\nhello\r\n0\r\n\r\n', '5\r\nhello\r\n', '5\r\nhelloXX\r\n0\r\n\r\n', '5;a="\r\n"\r\nhello\r\n0\r\n\r\n', '0\r\nTrailer: x\r\n\r\n', '0\r\nContent-Length: 5\r\n\r\n', '\r\n', '5\nhello\n0\n\n', '1\r\n\u0000\r\n0\r\n\r\n'];
const EXPECTS = ['100-continue', 'foo', '100-continue, foo', '', '100-continue\u0000'];
const NAMES = ['X-Test', 'x test', 'X:Test', ':path', 'X-T\u0000', '', 'X\tTest', 'Content-Length ', ' Host', 'X-\u00e9', 'Transfer-Encoding ', 'x'.repeat(1000)];
const VALUES = ['v', 'a\u0000b', 'a\rb', 'a\nb', ' padded ', '\t', '\u00ff\u00fe', 'x'.repeat(9000), '\u0007', 'a\r\n b'];
const CONTROLS = ['\r', '\n', '\u0000', ' ', '\t', '\r\n ', '\r\n\t', '\u007f', '\u00ff', '\r\n', ':', '\r\n\r\n'];

type Mutator = (d: Draft, pick: <T>(list: readonly T[]) => T) => string;

const MUTATORS: Mutator[] = [
  (d, pick) => ((d.method = pick(METHODS)), `method ${JSON.stringify(d.method.slice(0, 20))}`),
  (d, pick) => ((d.target = pick(TARGETS)), `target ${JSON.stringify(d.target.slice(0, 40))}`),
  (d, pick) => ((d.version = pick(VERSIONS)), `version ${JSON.stringify(d.version)}`),
  (d) => ((d.method = 'CONNECT'), (d.target = 'a:443'), 'CONNECT a:443'),
  (d) => ((d.target = '*'), (d.method = 'OPTIONS'), 'OPTIONS *'),
  (d, pick) => (d.headers.push(['Host', pick(HOSTS)]), 'second Host'),
  (d, pick) => (setHeader(d, 'Host', pick(HOSTS)), 'odd Host'),
  (d) => ((d.headers = d.headers.filter(([n]) => n !== 'Host')), 'no Host'),
  (d, pick) => {
    const v = pick(LENGTHS);
    d.headers.push(['Content-Length', v]);
    return `Content-Length ${JSON.stringify(v)}`;
  },
  (d, pick) => {
    d.headers.push(['Content-Length', pick(LENGTHS)], ['Content-Length', pick(LENGTHS)]);
    return 'two Content-Length';
  },
  (d, pick) => {
    d.headers.push(['Transfer-Encoding', pick(ENCODINGS)]);
    d.body = pick(CHUNKED_BODIES);
    return `Transfer-Encoding + chunked body ${JSON.stringify(d.body.slice(0, 20))}`;
  },
  (d, pick) => {
    d.headers.push(['Transfer-Encoding', 'chunked'], ['Content-Length', pick(LENGTHS)]);
    d.body = pick(CHUNKED_BODIES);
    return 'Transfer-Encoding and Content-Length';
  },
  (d, pick) => {
    d.headers.push(['Transfer-Encoding', pick(ENCODINGS)], ['Transfer-Encoding', pick(ENCODINGS)]);
    d.body = pick(CHUNKED_BODIES);
    return 'two Transfer-Encoding';
  },
  (d, pick) => (d.headers.push(['Expect', pick(EXPECTS)]), 'Expect'),
  (d, pick) => (d.headers.push([pick(NAMES), pick(VALUES)]), 'odd field'),
  (d) => (d.headers.push(['X-Folded', 'a\r\n folded']), 'obs-fold'),
  (d) => (d.headers.push(['X-No-Colon', '']), (d.headers[d.headers.length - 1]![0] = 'X-No-Colon-Line'), 'line without a value'),
  (d) => ((d.eol = '\n'), 'bare LF line ends'),
  (d) => ((d.eol = '\r\r\n'), 'CR CR LF line ends'),
  (d) => {
    for (let i = 0; i < 150; i++) d.headers.push([`X-Many-${i}`, 'v']);
    return '150 more fields';
  },
  (d, pick) => (d.headers.push(['Connection', pick(['close, te', 'upgrade', 'keep-alive', 'Host', 'content-length', 'x-forwarded-for, close'])]), 'Connection'),
  (d, pick) => (d.headers.push(['Upgrade', pick(['websocket', 'h2c', 'HTTP/2.0', 'x'])], ['Connection', 'Upgrade']), 'Upgrade'),
  (d) => ((d.headers = d.headers.filter(([n]) => n !== 'Connection')), 'keep-alive (no Connection: close)'),
  (d, pick) => {
    d.body = pick(['', 'x', 'x'.repeat(100), '\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n']);
    return 'body without framing';
  },
  (d) => ((d.body = `${d.body}GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`), 'pipelined second request'),
  (d, pick) => {
    const h = d.headers.length === 0 ? undefined : pick(d.headers);
    if (h !== undefined) h[0] = pick([h[0].toUpperCase(), h[0].toLowerCase(), `${h[0]} `, ` ${h[0]}`]);
    return 'a field name respelled';
  },
];

function setHeader(d: Draft, name: string, value: string): void {
  const h = d.headers.find(([n]) => n === name);
  if (h !== undefined) h[1] = value;
  else d.headers.push([name, value]);
}

function serialize(d: Draft): string {
  let s = `${d.method} ${d.target} ${d.version}`.replace(/ $/, '') + d.eol;
  for (const [n, v] of d.headers) s += (v === '' && n.endsWith('-Line') ? n : `${n}: ${v}`) + d.eol;
  return s + d.eol + d.body;
}

/** `count` cases from `seed`: deterministic, about a third of them also mutated byte by byte. */
export function fuzzRequests(seed: number, count: number, path = '/echo'): FuzzCase[] {
  const rnd = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const out: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const d: Draft = { method: 'GET', target: path, version: 'HTTP/1.1', headers: [['Host', 'a'], ['Connection', 'close']], body: '', eol: '\r\n' };
    const mutations: string[] = [];
    const n = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) mutations.push(pick(MUTATORS)(d, pick));
    let bytes = Buffer.from(serialize(d), 'latin1');
    if (rnd() < 0.35) {
      const flips = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rnd() * bytes.length);
        const kind = Math.floor(rnd() * 4);
        if (kind === 0 && bytes.length > 0) {
          bytes = Buffer.from(bytes);
          bytes[at] = bytes[at]! ^ (1 << Math.floor(rnd() * 8));
          mutations.push(`bit flip at ${at}`);
        } else if (kind === 1) {
          const c = pick(CONTROLS);
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(c, 'latin1'), bytes.subarray(at)]);
          mutations.push(`inserted ${JSON.stringify(c)} at ${at}`);
        } else if (kind === 2) {
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          mutations.push(`deleted byte ${at}`);
        } else {
          bytes = bytes.subarray(0, Math.max(1, at));
          mutations.push(`cut at ${at}`);
        }
      }
    }
    out.push({ mutations, bytes });
  }
  return out;
}
