// No regular expression from the config can stall the event loop: route regexes and CORS
// origin patterns run on a linear-time engine (RE2), and patterns RE2 cannot run
// (backreferences, lookaround) are refused at load with their position. The gateway runs
// in a child process so that, were a pattern to backtrack, this test would see a stalled
// gateway (and fail on its bounds) instead of stalling itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configProblems } from '../helpers/config.js';
import { http, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

/** Resolves with the status, or with 'timeout' after `ms` (the request is then abandoned). */
function statusWithin(url: string, opts: Parameters<typeof http>[1], ms: number): Promise<number | 'timeout'> {
  return Promise.race([http(url, opts).then((r) => r.status), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);
}

describe('regular expressions from the config run in linear time', () => {
  let echo: Upstream;
  let gw: CliGateway;
  before(async () => {
    echo = await startEchoUpstream();
    gw = await startCli([
      '--config',
      writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: null, portal: null }
services:
  - name: s
    url: "${echo.url}"
    routes:
      - { name: evil, paths: ["~^/a/(x+)+y$", "~^/b/(a|aa)+$", "~^/c/(\\\\w+-?)*$"] }
      - name: cors
        paths: ["/cors"]
        plugins:
          cors: { origins: ["~^https://(a+)+\\\\.example$"] }
      - { name: normal, paths: ["/"] }
`),
    ]);
  });
  after(async () => {
    // SIGKILL: a gateway stuck in a backtracking match could not run its SIGTERM handler.
    await gw?.stop('SIGKILL');
    await echo?.close();
  });

  test('a catastrophic-backtracking path is answered, and a concurrent request is not held up', async () => {
    const evil = ['/a/' + 'x'.repeat(40), '/a/' + 'x'.repeat(5000), '/b/' + 'a'.repeat(60) + '!', '/c/' + 'aaaa-'.repeat(30) + '!'];
    for (const path of evil) {
      const pending = statusWithin(gw.url, { path }, 20_000);
      // Sent after the evil request: with a backtracking engine it waits until that finishes.
      const normal = await statusWithin(gw.url, { path: '/plain' }, 10_000);
      assert.equal(normal, 200, `a normal request during ${path.slice(0, 12)}…`);
      const status = await pending;
      assert.notEqual(status, 'timeout', path.slice(0, 12));
      assert.equal(status, 200, 'the evil path falls through to the catch-all route');
    }
  });

  test('a catastrophic CORS origin pattern does not stall either', async () => {
    const origin = 'https://' + 'a'.repeat(40) + '!.example';
    const pending = statusWithin(gw.url, { method: 'OPTIONS', path: '/cors', headers: { origin, 'access-control-request-method': 'GET' } }, 20_000);
    const normal = await statusWithin(gw.url, { path: '/plain' }, 10_000);
    assert.equal(normal, 200);
    assert.equal(await pending, 403, 'an origin that the pattern does not match is refused');
    const ok = await statusWithin(gw.url, { method: 'OPTIONS', path: '/cors', headers: { origin: 'https://aaa.example', 'access-control-request-method': 'GET' } }, 10_000);
    assert.equal(ok, 204);
  });
});

describe('patterns a linear-time engine cannot run are refused at load', () => {
  const route = (p: string) => `_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:1"
    routes:
      - paths:
          - "/ok"
          - '${p}'
`;
  for (const p of ['~^/(a)\\1$', '~^/(?=admin)', '~^/(?!public)', '~^/(?<=x)y', '~^/(?<n>a)\\k<n>$', '~^/a++$']) {
    test(`route path ${p}`, () => {
      const lines = configProblems(route(p), 'r.yaml');
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^r\.yaml:8:13 services\[0\]\.routes\[0\]\.paths\[1\]: /);
      assert.match(lines[0]!, /regular expression/);
    });
  }

  test('a CORS origin pattern with a backreference', () => {
    const lines = configProblems(
      `_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:1"
    routes:
      - paths: ["/"]
        plugins:
          cors: { origins: ['~^https://(a)\\1\\.example$'] }
`,
      'c.yaml',
    );
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^c\.yaml:8:29 services\[0\]\.routes\[0\]\.plugins\.cors\.origins\[0\]: .*regular expression/);
  });

  test('patterns RE2 runs are accepted: classes, groups, named groups, anchors, flags-free alternation', () => {
    assert.deepEqual(configProblems(route('~^/v[0-9]+/(?<id>[a-z]+)/(x|y)*$'), 'r.yaml'), []);
  });
});
