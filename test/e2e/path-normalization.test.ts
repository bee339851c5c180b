// The route a request gets (and so its auth) is the route an upstream would pick for the
// path it receives. A key-protected prefix sits next to an open catch-all; every spelling
// that some upstream framework (Tomcat/Spring, Express, ASP.NET/IIS, Go) reads as the
// protected path is sent over a raw socket. Each must be refused (400 problem+json) or
// reach the protected route (401 without a key); what reaches the upstream through the
// open route must read as an unprotected path under every framework's reading.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configProblems } from '../helpers/config.js';
import { rawRequest, startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const KEY = 'path-test-key-0001';
const config = (upstream: string, paths = '') => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
${paths}
consumers:
  - username: alice
    credentials:
      key-auth: [{ key: "${KEY}" }]
services:
  - name: s
    url: "${upstream}"
    routes:
      - { name: private, paths: ["/private"], plugins: { key-auth: {} } }
      - { name: admin, paths: ["/admin"], case_insensitive: true, plugins: { key-auth: {} } }
      - { name: exact, paths: ["=/exact/secret"], plugins: { key-auth: {} } }
      - { name: open, paths: ["/"] }
`;

interface Answer { status: number; type: string; url: string | null; raw: string }

async function send(port: number, target: string, key = false): Promise<Answer> {
  const raw = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: a.example\r\n${key ? `apikey: ${KEY}\r\n` : ''}Connection: close\r\n\r\n`);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const type = /\r\ncontent-type: ([^\r]*)/i.exec(raw)?.[1] ?? '';
  const url = /"url":"((?:[^"\\]|\\.)*)"/.exec(raw);
  return { status, type, url: url === null ? null : (JSON.parse(`"${url[1]}"`) as string), raw };
}

// ---- how upstream frameworks read a path (the test's oracle) ----

/** Percent-decoding as lenient servers do it: overlong UTF-8 for "/", "." and "\" taken as those, bad UTF-8 as Latin-1. */
function decode(s: string): string {
  const t = s.replace(/%c0%af/gi, '/').replace(/%c0%ae/gi, '.').replace(/%c1%9c/gi, '\\');
  try {
    return decodeURIComponent(t);
  } catch {
    return t.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}
/** Servlet containers drop ";params" from each segment. */
const stripParams = (s: string) => s.replace(/;[^/]*/g, '');
/** Everything else lenient readers do: "\" as "/", trimmed dots and white space, merged slashes, dot segments, fullwidth forms. */
function lenient(s: string): string {
  let p = stripParams(s).replace(/\\/g, '/').normalize('NFKC');
  p = p.split('/').map((seg) => seg.replace(/^[\s]+/, '').replace(/[.\s]+$/, (m) => (seg === m ? m : ''))).join('/');
  p = p.replace(/\/{2,}/g, '/');
  const out: string[] = [];
  for (const seg of p.split('/').slice(1)) {
    if (seg === '..') out.pop();
    else if (seg !== '.') out.push(seg);
  }
  return '/' + out.join('/');
}
function readings(url: string): string[] {
  const path = url.split('?')[0]!.split('#')[0]!;
  const bases = [path, decode(path), decode(decode(path)), decode(stripParams(path)), decode(decode(stripParams(path)))];
  return bases.map(lenient);
}
/** Case-insensitive frameworks compare upper-cased (Java's equalsIgnoreCase: "ı" is "I"). */
const readsAsProtected = (url: string) => readings(url).some((r) => /^\/(PRIVATE|ADMIN)(\/|$)|^\/EXACT\/SECRET\/?$/.test(r.toUpperCase()));

const SPELLINGS = [
  // path parameters
  '/private;x=1', '/private;/x', '/private;', '/;x/private', '/private%3bx=1', '/private%3B/x', '/x/..;/private',
  // letter case
  '/PRIVATE', '/Private/', '/pRiVaTe/x', '/EXACT/SECRET', '/exact/Secret', '/%70RIVATE',
  // encoded separators
  '/private%2fx', '/private%2Fx', '/%2fprivate', '/private%5cx', '/private%5Cx', '/%5cprivate', '/x%2f..%2fprivate',
  // trailing dots and white space
  '/private.', '/private./x', '/private..', '/private%2e', '/private%2E/x', '/private%20', '/private%20/x', '/%20private', '/private%09', '/private%0a', '/private%0d%0a', '/private%2e%20',
  // raw bytes the parser may let through
  '/private ', '/private\t', '/private\x7f', '/priv\x80ate',
  // dot segments, merged slashes, double encoding
  '//private', '///private/x', '/x/..%2fprivate', '/x/%2e%2e/private', '/x/.%2e/private', '/%252e%252e/private', '/x/%252e%252e/private', '/%2570rivate', '/private%252f',
  // NUL, query, fragment
  '/private%00', '/private%00/x', '/private?', '/private#x', '/private%23x',
  // overlong UTF-8, invalid UTF-8, fullwidth and case-folding look-alikes
  '/%c0%afprivate', '/x/%c0%ae%c0%ae/private', '/x%c1%9cprivate', '/%ef%bd%90rivate', '/%EF%BD%90%EF%BD%92%EF%BD%89%EF%BD%96%EF%BD%81%EF%BD%94%EF%BD%85', '/%EF%BC%8Fprivate', '/private%ef%bc%8e', '/pr%c4%b1vate', '/%e2%84%aadmin', '/%c5%bfecret', '/exact/%c5%bfecret', '/priv%ff%feate', '/%ed%a0%80private',
  // the case-insensitive route
  '/ADMIN', '/Admin/x', '/aDmin;x', '/ADMIN%2F', '/%41dmin',
];

describe('every spelling of a protected path is refused or meets its route', () => {
  let echo: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    echo = await startEchoUpstream();
    gw = await startGateway(config(echo.url));
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
  });

  for (const spelling of SPELLINGS) {
    test(JSON.stringify(spelling), async () => {
      const a = await send(gw.port, spelling);
      assert.ok([400, 401, 200].includes(a.status), `status ${a.status}: ${a.raw.slice(0, 200)}`);
      if (a.status === 400) assert.match(a.type, /application\/problem\+json/);
      if (a.status === 200) {
        assert.ok(a.url !== null);
        assert.ok(!readsAsProtected(a.url), `reached the upstream without a key as ${JSON.stringify(a.url)}, which an upstream reads as ${JSON.stringify(readings(a.url))}`);
      }
    });
  }

  test('the oracle itself flags what it should', () => {
    for (const bypass of ['/PRIVATE', '/private;x', '/private%2fx', '/x/..%2fprivate', '/private.', '/private%20', '/%ef%bd%90rivate', '/pr%c4%b1vate', '/%c0%afprivate', '/x/%252e%252e/private']) {
      assert.ok(readsAsProtected(bypass), bypass);
    }
    for (const fine of ['/', '/privateer', '/x/private', '/public/x', '/caf%C3%A9', '/Users/AbC']) assert.ok(!readsAsProtected(fine), fine);
  });

  test('normal paths: with the key, the upstream receives the normalized path', async () => {
    const cases: Array<[string, string]> = [
      ['/private', '/private'],
      ['/private/x?q=%2F', '/private/x?q=%2F'],
      ['/%70rivate/%7Euser', '/private/~user'],
      ['//private//x', '/private/x'],
      ['/ADMIN/Stuff', '/ADMIN/Stuff'],
      ['/aDmIn', '/aDmIn'],
      ['/exact/secret', '/exact/secret'],
    ];
    for (const [sent, received] of cases) {
      assert.equal((await send(gw.port, sent)).status, 401, sent);
      const a = await send(gw.port, sent, true);
      assert.equal(a.status, 200, sent);
      assert.equal(a.url, received, sent);
    }
  });

  test('ordinary paths through the open route are not refused', async () => {
    for (const path of ['/', '/Users/AbC', '/files/report.v2.pdf', '/caf%C3%A9', '/%E6%97%A5%E6%9C%AC', '/a~b/c-d_e', '/v1.2/x', '/a%20b', '/privateer', '/x/PRIVATE', '/a%2Bb']) {
      const a = await send(gw.port, path);
      assert.equal(a.status, 200, `${path}: ${a.raw.slice(0, 300)}`);
    }
  });
});

describe('paths options', () => {
  let echo: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    echo = await startEchoUpstream();
    gw = await startGateway(config(echo.url, 'paths: { escaped_slashes: keep, semicolons: strip, case_variants: allow }'));
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
  });

  test('escaped_slashes: keep routes and forwards %2F as data inside a segment', async () => {
    const a = await send(gw.port, '/files/a%2fb');
    assert.equal(a.status, 200);
    assert.equal(a.url, '/files/a%2Fb');
    for (const bad of ['/x/..%2fprivate', '/x%2f.%2fprivate', '/private%5cx']) assert.equal((await send(gw.port, bad)).status, 400, bad);
  });

  test('semicolons: strip reads ;params as servlet containers do, and forwards the path without them', async () => {
    for (const sent of ['/private;x=1', '/private;jsessionid=1/y', '/;a/private']) assert.equal((await send(gw.port, sent)).status, 401, sent);
    const a = await send(gw.port, '/private;jsessionid=abc/y;v=2', true);
    assert.equal(a.status, 200);
    assert.equal(a.url, '/private/y');
    assert.equal((await send(gw.port, '/x/..;/private')).status, 400, 'a dot segment behind a parameter is still one');
  });

  test('semicolons: strip still refuses %3B: an upstream that decodes before it drops ;params (Spring) reads /private%3Bx as /private', async () => {
    for (const sent of ['/private%3Bx', '/private%3bx=1/y', '/a%3B/private']) assert.equal((await send(gw.port, sent)).status, 400, sent);
  });

  test('case_variants: allow leaves letter case to the routes (for case-sensitive upstreams)', async () => {
    const a = await send(gw.port, '/PRIVATE');
    assert.equal(a.status, 200);
    assert.equal(a.url, '/PRIVATE');
    assert.equal((await send(gw.port, '/ADMIN')).status, 401, 'case_insensitive routes still match any case');
  });

  test('unknown values are config errors with their position', () => {
    const lines = configProblems(config('http://127.0.0.1:1', 'paths: { escaped_slashes: decode }'), 'p.yaml');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^p\.yaml:4:\d+ paths\.escaped_slashes: /);
  });
});

describe('route paths that no normalized request can match', () => {
  test('are config errors with their position and the spelling to write', () => {
    const yaml = `_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:1"
    routes:
      - paths:
          - "/%70rivate"
          - "/a%2fb"
          - "/a;v=1/x"
          - "/files."
          - "/a%2bb"
          - "/ok/:id/x"
          - "=/exact/"
`;
    const lines = configProblems(yaml, 'r.yaml');
    assert.deepEqual(lines, [
      'r.yaml:7:13 services[0].routes[0].paths[0]: never matches: request paths are normalized first, write it as "/private" (docs/routing.md)',
      'r.yaml:8:13 services[0].routes[0].paths[1]: never matches: requests with such a path are refused (has an encoded slash (%2F))',
      'r.yaml:9:13 services[0].routes[0].paths[2]: never matches: requests with such a path are refused (has a ;parameter)',
      'r.yaml:10:13 services[0].routes[0].paths[3]: never matches: requests with such a path are refused (has a segment ending in ".")',
      'r.yaml:11:13 services[0].routes[0].paths[4]: never matches: request paths are normalized first, write it as "/a%2Bb" (docs/routing.md)',
    ]);
  });
});
