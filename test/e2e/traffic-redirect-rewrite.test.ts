// `redirect` and `rewrite` against a real upstream, over HTTP/1.1 and h2c on one listener:
// the Gateway API conformance cases (httproute-redirect-path, -port, -scheme,
// -host-and-status, -request-redirect; httproute-rewrite-path, -rewrite-host) turned into
// requests, and what a client could try to make a Location or an upstream path say.
import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { CertDir } from '../helpers/certs.js';
import { configProblems } from '../helpers/config.js';
import { http, rawExchange, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

interface Answer {
  status: number;
  location: string | undefined;
  body: string;
}

function h2(session: ClientHttp2Session, path: string, authority: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':authority': authority });
    let status = 0;
    let location: string | undefined;
    let body = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      location = h['location'] as string | undefined;
    });
    stream.on('data', (c: Buffer) => (body += c.toString()));
    stream.on('end', () => resolve({ status, location, body }));
    stream.on('error', reject);
  });
}

describe('redirect and rewrite', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  let session: ClientHttp2Session;
  /** The path and Host each request reached the upstream with. */
  const seen: Array<{ url: string; host: string }> = [];

  /** One request over HTTP/1.1 and the same over h2c: both must get the same answer. */
  async function both(path: string, host = `gw.example:${gw.port}`): Promise<Answer> {
    const one = await http(gw.url, { path, headers: { host } });
    const two = await h2(session, path, host);
    const a: Answer = { status: one.status, location: one.headers['location'] as string | undefined, body: one.body };
    assert.deepEqual({ status: two.status, location: two.location }, { status: a.status, location: a.location }, `h2c answered ${path} otherwise`);
    return a;
  }
  /** The upstream path (with query) and Host a request arrived with, over both protocols. */
  async function upstreamSaw(path: string, host?: string): Promise<{ url: string; host: string }> {
    seen.length = 0;
    const a = await both(path, host);
    assert.equal(a.status, 200, a.body);
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[1], seen[0]);
    return seen[0]!;
  }

  const certs = new CertDir();
  before(async () => {
    certs.ca('ca');
    certs.leaf('server', 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1');
    up = await startUpstream((req, res) => {
      req.resume();
      seen.push({ url: req.url!, host: req.headers.host! });
      res.end('upstream');
    });
    const redirect = (path: string, cfg: string) => `      - { paths: ["${path}"], plugins: { redirect: ${cfg} } }`;
    const rewrite = (path: string, cfg: string, extra = '') => `      - { paths: ["${path}"], plugins: { rewrite: ${cfg} }${extra} }`;
    gw = await startGateway(`
_format_version: "1"
listen:
  proxy:
    - { address: "127.0.0.1:0", http2: true }
    - address: "127.0.0.1:0"
      http2: true
      tls: { certificates: [{ cert: "${certs.path('server.crt')}", key: "${certs.path('server.key')}" }] }
  status: null
services:
  - name: s
    url: "${up.url}"
    routes:
${redirect('/original-prefix', '{ path: { replace_prefix: /replacement-prefix } }')}
${redirect('/full', '{ path: { replace_full: /full-path-replacement } }')}
${redirect('/path-and-host', '{ host: example.org, path: { replace_prefix: /replacement-prefix } }')}
${redirect('/path-and-status', '{ path: { replace_prefix: /replacement-prefix }, status: 301 }')}
${redirect('/full-path-and-host', '{ host: example.org, path: { replace_full: /replacement-full } }')}
${redirect('/full-path-and-status', '{ path: { replace_full: /replacement-full }, status: 301 }')}
${redirect('/hostname-redirect', '{ host: example.org }')}
${redirect('/host-and-status', '{ host: example.org, status: 301 }')}
${redirect('/scheme-nil-and-port-nil', '{ host: example.org }')}
${redirect('/scheme-nil-and-port-80', '{ host: example.org, port: 80 }')}
${redirect('/scheme-nil-and-port-8080', '{ host: example.org, port: 8080 }')}
${redirect('/scheme-https-and-port-nil', '{ host: example.org, scheme: https }')}
${redirect('/scheme-https-and-port-443', '{ host: example.org, scheme: https, port: 443 }')}
${redirect('/scheme-https-and-port-8443', '{ host: example.org, scheme: https, port: 8443 }')}
${redirect('/see-other', '{ status: 303 }')}
${redirect('/temporary', '{ status: 307 }')}
${redirect('/permanent', '{ status: 308 }')}
${redirect('/anything', '{ }')}
${redirect('/to-http', '{ scheme: http }')}
${rewrite('/prefix/one', '{ path: { replace_prefix: /one } }')}
${rewrite('/strip-prefix', '{ path: { replace_prefix: / } }')}
${rewrite('/full/one', '{ path: { replace_full: /one } }')}
${rewrite('/foo', '{ path: { replace_prefix: /xyz/ } }')}
${rewrite('/bar/', '{ path: { replace_prefix: /xyz } }')}
${rewrite('/empty', '{ path: { replace_prefix: "" } }')}
${rewrite('=/exact/', '{ path: { replace_prefix: /xyz } }')}
${rewrite('~^/re/[a-z]+', '{ path: { replace_prefix: /xyz } }')}
${rewrite('/host', '{ host: "rewritten.example:8443" }')}
${rewrite('/stripped', '{ host: rewritten.example }', ', strip_path: true')}
${rewrite('/both', '{ path: { replace_prefix: /new } }', ', strip_path: true')}
  - name: based
    url: "${up.url}/v1"
    routes:
${rewrite('/based', '{ path: { replace_prefix: /two } }')}
  - name: root
    url: "${up.url}"
    routes:
      - { paths: ["/"], hosts: [root.example], plugins: { rewrite: { path: { replace_prefix: /base } } } }
`);
    session = connect(gw.url);
  });
  after(async () => {
    session.close();
    await gw.close();
    await up.close();
  });

  test('path redirects: the matched prefix or the whole path is replaced, 302 by default (httproute-redirect-path)', async () => {
    const host = `gw.example:${gw.port}`;
    const cases: Array<[string, number, string]> = [
      ['/original-prefix/lemon', 302, `http://${host}/replacement-prefix/lemon`],
      ['/original-prefix', 302, `http://${host}/replacement-prefix`],
      ['/full/path/original', 302, `http://${host}/full-path-replacement`],
      ['/path-and-host', 302, `http://example.org:${gw.port}/replacement-prefix`],
      ['/path-and-status', 301, `http://${host}/replacement-prefix`],
      ['/full-path-and-host', 302, `http://example.org:${gw.port}/replacement-full`],
      ['/full-path-and-status', 301, `http://${host}/replacement-full`],
    ];
    for (const [path, status, location] of cases) assert.deepEqual(await both(path), { status, location, body: '' }, path);
    // On segment boundaries: /original-prefixed is not under /original-prefix (and matches no route).
    assert.equal((await both('/original-prefixed')).status, 404);
  });

  test('host and status (httproute-redirect-host-and-status, 303/307/308): the query is kept', async () => {
    assert.equal((await both('/hostname-redirect')).location, `http://example.org:${gw.port}/hostname-redirect`);
    assert.deepEqual(await both('/host-and-status'), { status: 301, location: `http://example.org:${gw.port}/host-and-status`, body: '' });
    assert.equal((await both('/see-other/x')).status, 303);
    assert.equal((await both('/temporary')).status, 307);
    assert.equal((await both('/permanent')).status, 308);
    assert.equal((await both('/original-prefix/lemon?a=1&b=%20c&a=2')).location, `http://gw.example:${gw.port}/replacement-prefix/lemon?a=1&b=%20c&a=2`);
  });

  test('port and scheme: a configured port, else the configured scheme\'s default, else the port the client used; default ports are not written', async () => {
    const cases: Array<[string, string, string]> = [
      // [request Host, path, Location]
      [`gw.example:${gw.port}`, '/scheme-nil-and-port-nil', `http://example.org:${gw.port}/scheme-nil-and-port-nil`],
      ['gw.example:80', '/scheme-nil-and-port-nil', 'http://example.org/scheme-nil-and-port-nil'],
      ['gw.example', '/scheme-nil-and-port-nil', 'http://example.org/scheme-nil-and-port-nil'],
      [`gw.example:${gw.port}`, '/scheme-nil-and-port-80', 'http://example.org/scheme-nil-and-port-80'],
      [`gw.example:${gw.port}`, '/scheme-nil-and-port-8080', 'http://example.org:8080/scheme-nil-and-port-8080'],
      [`gw.example:${gw.port}`, '/scheme-https-and-port-nil', 'https://example.org/scheme-https-and-port-nil'],
      [`gw.example:${gw.port}`, '/scheme-https-and-port-443', 'https://example.org/scheme-https-and-port-443'],
      [`gw.example:${gw.port}`, '/scheme-https-and-port-8443', 'https://example.org:8443/scheme-https-and-port-8443'],
      ['[::1]:8080', '/anything/x', 'http://[::1]:8080/anything/x'],
      ['127.0.0.1', '/anything/x', 'http://127.0.0.1/anything/x'],
    ];
    for (const [host, path, location] of cases) assert.equal((await both(path, host)).location, location, `${host} ${path}`);
  });

  test('on a TLS listener the scheme is https: its default port 443 is not written, a configured http scheme gets 80', async () => {
    const tlsPort = gw.ports[1]!;
    const session = connect(`https://localhost:${tlsPort}`, { ca: certs.read('ca.crt') });
    try {
      assert.equal((await h2(session, '/anything/x?y', `gw.example:${tlsPort}`)).location, `https://gw.example:${tlsPort}/anything/x?y`);
      assert.equal((await h2(session, '/anything/x', 'gw.example:443')).location, 'https://gw.example/anything/x');
      assert.equal((await h2(session, '/anything/x', 'gw.example')).location, 'https://gw.example/anything/x');
      assert.equal((await h2(session, '/to-http/x', `gw.example:${tlsPort}`)).location, 'http://gw.example/to-http/x');
      assert.equal((await h2(session, '/scheme-nil-and-port-nil', `gw.example:${tlsPort}`)).location, `https://example.org:${tlsPort}/scheme-nil-and-port-nil`);
    } finally {
      session.close();
    }
  });

  test('no open redirect: the Location names the host the client asked for or the configured one, and no byte a client sent can break out of it', async () => {
    // A configured host wins over any Host header.
    assert.equal((await both('/hostname-redirect', 'evil.example')).location, `http://example.org/hostname-redirect`);
    // Path tricks: repeated slashes are merged before routing, so the path can never read as an authority.
    const slashes = await http(gw.url, { path: '/anything//evil.example/x', headers: { host: 'gw.example' } });
    assert.equal(slashes.headers['location'], 'http://gw.example/anything/evil.example/x');
    // Backslashes, dot segments, a Host with userinfo, a path or a second host: refused before the plugin.
    for (const [path, host] of [['/anything/\\evil.example', 'gw.example'], ['/anything/%5cevil.example', 'gw.example'], ['/anything/../x', 'gw.example'], ['/anything', 'gw.example@evil.example'], ['/anything', 'evil.example/x'], ['/anything', 'evil.example\\@gw.example']] as const) {
      const r = await http(gw.url, { path, headers: { host } });
      assert.equal(r.status, 400, `${host} ${path}`);
      assert.equal(r.headers['location'], undefined);
    }
    // Encoded CR/LF in the query stay encoded: no header can be injected through the Location.
    const crlf = await http(gw.url, { path: '/anything?x=%0d%0aSet-Cookie:%20a=b', headers: { host: 'gw.example' } });
    assert.equal(crlf.status, 302);
    assert.equal(crlf.headers['location'], 'http://gw.example/anything?x=%0d%0aSet-Cookie:%20a=b');
    assert.equal(crlf.headers['set-cookie'], undefined);
    // Raw bytes the parser lets through in the query are percent-encoded, never sent raw.
    const raw = await rawExchange(gw.port, 'GET /anything?q="<x>"|^` HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n');
    const location = /\r\nlocation: ([^\r]*)\r\n/i.exec(raw.text)?.[1];
    if (location !== undefined) assert.equal(location, 'http://gw.example/anything?q=%22%3Cx%3E%22%7C%5E%60');
    else assert.match(raw.text, /^HTTP\/1\.1 400 /);
    // An HTTP/1.0 request without Host has no host to go back to.
    const noHost = await rawExchange(gw.port, 'GET /anything HTTP/1.0\r\n\r\n');
    assert.match(noHost.text, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(noHost.text, /\r\nlocation:/i);
  });

  test('prefix rewrites (httproute-rewrite-path): the matched prefix is replaced, with the "/" and trailing-slash cases', async () => {
    const cases: Array<[string, string]> = [
      ['/prefix/one/two', '/one/two'],
      ['/prefix/one', '/one'],
      ['/prefix/one/', '/one/'],
      ['/strip-prefix', '/'],
      ['/strip-prefix/three', '/three'],
      ['/strip-prefix?query=1', '/?query=1'],
      ['/strip-prefix/three?a=1&b=2', '/three?a=1&b=2'],
      ['/full/one/two', '/one'],
      ['/full/one?x=1', '/one?x=1'],
      ['/foo', '/xyz'],
      ['/foo/', '/xyz/'],
      ['/foo/bar', '/xyz/bar'],
      ['/bar', '/xyz'],
      ['/bar/', '/xyz/'],
      ['/bar/baz', '/xyz/baz'],
      ['/empty', '/'],
      ['/empty/', '/'],
      ['/empty/x', '/x'],
      // An exact route's prefix is the whole path; its trailing slash stays a trailing slash.
      ['/exact/', '/xyz/'],
      // A regex route's prefix is what it matched.
      ['/re/ab/c?d', '/xyz/c?d'],
    ];
    for (const [path, expected] of cases) assert.equal((await upstreamSaw(path)).url, expected, path);
    // The service URL's path goes in front; a `/` route's prefix is empty.
    assert.equal((await upstreamSaw('/based/x')).url, '/v1/two/x');
    assert.equal((await upstreamSaw('/a/b?c', 'root.example')).url, '/base/a/b?c');
  });

  test('host rewrites (httproute-rewrite-host); strip_path stays and composes', async () => {
    assert.deepEqual(await upstreamSaw('/host/x'), { url: '/host/x', host: 'rewritten.example:8443' });
    // Host only: strip_path removes the prefix as usual.
    assert.deepEqual(await upstreamSaw('/stripped/x?y'), { url: '/x?y', host: 'rewritten.example' });
    // A path rewrite replaces the prefix strip_path would have removed: the same path either way.
    assert.equal((await upstreamSaw('/both/x')).url, '/new/x');
    assert.equal((await upstreamSaw('/both')).url, '/new');
  });

  test('the rewritten path stays normalized: dot segments never reach the plugin, and replacements that are not normal paths are refused at load', async () => {
    seen.length = 0;
    for (const path of ['/prefix/one/../../etc/passwd', '/prefix/one/%2e%2e/x', '/strip-prefix/..', '/prefix/one//x/..']) {
      assert.equal((await http(gw.url, { path })).status, 400, path);
    }
    assert.equal(seen.length, 0, 'the upstream saw none of them');
    const config = (plugin: string) => `_format_version: "1"\nservices:\n  - name: s\n    url: "http://127.0.0.1:1"\n    routes:\n      - paths: ["/"]\n        plugins:\n          ${plugin}\n`;
    for (const bad of ['/a/../b', '/..', '/a/./b', 'a', '//evil.example', '/a//b', '/a\\\\b', '/a?x', '/a#x', '/a b', '/%2e%2e', '/a;b']) {
      for (const plugin of ['rewrite', 'redirect']) {
        const problems = configProblems(config(`${plugin}: { path: { replace_full: ${JSON.stringify(bad)} } }`), 't.yaml');
        assert.equal(problems.length, 1, `${plugin} ${bad}: ${problems.join('\n')}`);
        assert.match(problems[0]!, new RegExp(`plugins\\.${plugin}\\.path\\.replace_full: must be an absolute, normalized path`));
      }
    }
    const both = configProblems(config('rewrite: { path: { replace_full: /a, replace_prefix: /b } }'), 't.yaml');
    assert.match(both.join('\n'), /plugins\.rewrite\.path: needs exactly one of replace_full, replace_prefix/);
    assert.match(configProblems(config('rewrite: {}'), 't.yaml').join('\n'), /plugins\.rewrite: needs host, path or both/);
    assert.match(configProblems(config('redirect: { host: "evil.example/x" }'), 't.yaml').join('\n'), /plugins\.redirect\.host: must be a host name or an IP address/);
    assert.match(configProblems(config('redirect: { host: "a@evil.example" }'), 't.yaml').join('\n'), /plugins\.redirect\.host: must be a host name/);
    assert.match(configProblems(config('redirect: { status: 304 }'), 't.yaml').join('\n'), /plugins\.redirect\.status/);
    assert.match(configProblems(config('redirect: { scheme: ftp }'), 't.yaml').join('\n'), /plugins\.redirect\.scheme/);
    assert.match(configProblems(config('rewrite: { host: "a\\r\\nx: y" }'), 't.yaml').join('\n'), /plugins\.rewrite\.host: must be a host name or an IP address, with an optional port/);
  });
});
