// The real CLI in child processes: validate, routes, explain, init, flag handling, and
// `start` with the embedded default config.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configText, killCli, stderrIncludes, stopCli } from '../helpers/load.js';
import { http, runCli, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway } from '../helpers/servers.js';

const INVALID = `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
services:
  - name: orders
    url: "http://127.0.0.1:9"
    routes:
      - paths: ["/orders"]
        strip_paht: true
`;

/** Routes declared in an order unlike their match order. */
function routingConfig(upstream = 'http://127.0.0.1:9'): string {
  return configText({
    services: [
      {
        name: 'users',
        url: `${upstream}/base/`,
        plugins: { headers: { request: { set: { 'x-team': 'users' } } } },
        routes: [
          { name: 'api-any', paths: ['/api'], strip_path: true },
          { name: 'users-post', paths: ['/api/users'], methods: ['POST'] },
          { name: 'users-v2', paths: ['/api/users'], headers: { 'x-version': ['2'] }, strip_path: true },
          { name: 'users-exact', paths: ['=/api/users'] },
          { name: 'plain', paths: ['/plain'] },
          { name: 'admin', hosts: ['admin.example.com'], paths: ['/'] },
        ],
      },
    ],
  });
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

test('validate accepts a valid file: prints "valid", exit 0', async () => {
  const file = writeConfig(routingConfig());
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'valid\n');
});

test('validate reports each problem as FILE:LINE:COL PATH: message, exit 2', async () => {
  const file = writeConfig(INVALID);
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 2);
  assert.deepEqual(lines(r.stdout), [`${file}:8:9 services[0].routes[0].strip_paht: unknown key "strip_paht" (did you mean "strip_path"?)`]);

  // Several problems: one line each, every one located.
  const many = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
servces: []
limits: { idle_timeout: "soon" }
`);
  const m = await runCli(['validate', '--config', many]);
  assert.equal(m.code, 2);
  const out = lines(m.stdout);
  assert.equal(out.length, 2, m.stdout);
  assert.ok(out.includes(`${many}:3:1 servces: unknown key "servces" (did you mean "services"?)`), m.stdout);
  for (const l of out) assert.match(l, new RegExp(`^${many.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[0-9]+:[0-9]+ \\S+: .+$`));
});

test('validate on a missing file: exit 2 with a clear line', async () => {
  const file = join(tempDir(), 'nope.yaml');
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, `${file}:1:1 (root): cannot read config: file not found\n`);
});

test('start with an invalid file exits 2, prints the same lines on stderr, binds nothing', async () => {
  const file = writeConfig(INVALID);
  const v = await runCli(['validate', '--config', file]);
  const s = await runCli(['start', '--config', file]);
  assert.equal(s.code, 2);
  assert.equal(s.stderr, v.stdout);
  assert.doesNotMatch(s.stdout, /"type":"start"/);
  assert.doesNotMatch(s.stderr, /listening/);
});

test('start and validate print the same FILE for a relative --config', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'gw.yaml'), INVALID);
  const v = await runCli(['validate', '--config', 'gw.yaml'], { cwd: dir });
  const s = await runCli(['start', '--config', 'gw.yaml'], { cwd: dir });
  assert.equal(v.code, 2);
  assert.equal(s.code, 2);
  assert.equal(s.stderr, v.stdout);
});

test('routes prints the table in match order: host-specific, exact, longer prefix first', async () => {
  const file = writeConfig(routingConfig());
  const r = await runCli(['routes', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  const rows = lines(r.stdout);
  assert.match(rows[0]!, /^#\s+ROUTE\s+SERVICE\s+MATCH\s+PLUGINS$/);
  const names = rows.slice(1, -1).map((l) => l.split(/\s+/)[1]);
  // Same path and as many constraints: file order (users-post is declared before users-v2).
  assert.deepEqual(names, ['admin', 'users-exact', 'users-post', 'users-v2', 'api-any', 'plain']);
  assert.equal(rows.at(-1), '6 route entries');
  const admin = rows[1]!;
  assert.match(admin, /host=admin\.example\.com prefix \//);
  assert.match(admin, /headers\(\d+, service\)$/);
});

test('routes --json is parseable and carries order', async () => {
  const file = writeConfig(routingConfig());
  const r = await runCli(['routes', '--config', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{ order: number; route: string; host: string | null; kind: string; path: string; methods: string[] | null }>;
  assert.deepEqual(
    rows.map((x) => [x.order, x.route]),
    [[1, 'admin'], [2, 'users-exact'], [3, 'users-post'], [4, 'users-v2'], [5, 'api-any'], [6, 'plain']],
  );
  assert.equal(rows[0]!.host, 'admin.example.com');
  assert.equal(rows[1]!.kind, 'exact');
  assert.equal(rows[1]!.path, '=/api/users');
  assert.deepEqual(rows[2]!.methods, ['POST']);
});

test('explain names the match, says why earlier candidates failed, lists the plugin chain', async () => {
  const file = writeConfig(routingConfig());
  const r = await runCli(['explain', '--config', file, 'GET', '/api/users/7']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /✗ users-exact .*\n\s+path "\/api\/users\/7" does not match exact path \/api\/users/);
  assert.match(out, /✗ users-v2 .*\n\s+header x-version is absent/);
  assert.match(out, /✗ users-post .*\n\s+method GET is not one of POST/);
  assert.match(out, /✓ api-any \[services\[0\]\.routes\[0\]\]/);
  assert.match(out, /^Plugins:\s+headers\(\d+, service\)$/m);

  const h = await runCli(['explain', '--config', file, 'GET', '/api/users/7', '-H', 'x-version: 2']);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /✓ users-v2 /);
  assert.doesNotMatch(h.stdout, /✗ users-v2/);
  assert.match(h.stdout, /^Route:\s+users-v2 \(services\[0\]\.routes\[2\]\), strip_path$/m);
});

test('explain reads the query string for query conditions and lists a route\'s weighted backends', async () => {
  const file = writeConfig(`
_format_version: "1"
session_persistence: { secret: "0123456789abcdef0123456789abcdef" }
upstreams: [{ name: v1, targets: [{ url: "http://127.0.0.1:9001" }] }]
services:
  - name: s
    url: http://127.0.0.1:9000
    routes:
      - { name: beta, paths: ["/s"], query: { beta: "~^(1|yes)$" } }
      - name: weighted
        paths: ["/s"]
        session_persistence: { type: cookie, name: ng-s }
        backends: [{ upstream: v1, weight: 9 }, { url: "http://127.0.0.1:9002/v2", weight: 1 }]
`);
  const r = await runCli(['explain', '--config', file, 'GET', '/s/x?beta=no&beta=1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /✗ beta .*query=beta=~\^\(1\|yes\)\$\n\s+query parameter beta is "no", wants a match of \^\(1\|yes\)\$/);
  assert.match(r.stdout, /^Backends: v1 \(weight 9\), http:\/\/127\.0\.0\.1:9002\/v2 \(weight 1\)$/m);
  assert.match(r.stdout, /^Forwards: http:\/\/127\.0\.0\.1:9001\/s\/x\?beta=no&beta=1  or  http:\/\/127\.0\.0\.1:9002\/v2\/s\/x\?beta=no&beta=1$/m);
  assert.match(r.stdout, /^Session:  cookie ng-s$/m);
  const q = await runCli(['explain', '--config', file, 'GET', '/s/x?beta=yes']);
  assert.match(q.stdout, /✓ beta /);
});

/** Runs explain and the real gateway on the same request and returns both upstream URLs. */
async function explainVersusGateway(t: { after: (fn: () => Promise<void>) => void }, path: string, headers: Record<string, string>) {
  const echo = await startEchoUpstream();
  t.after(() => echo.close());
  const file = writeConfig(routingConfig(echo.url));
  const args = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const r = await runCli(['explain', '--config', file, 'GET', path, ...args]);
  assert.equal(r.code, 0, r.stderr);
  const forwards = /^Forwards:\s+(\S+)$/m.exec(r.stdout)?.[1];
  let gw: CliGateway | undefined;
  t.after(() => killCli(gw));
  gw = await startCli(['--config', file]);
  const res = await http(gw.url, { path, headers });
  assert.equal(res.status, 200, res.body);
  const received = echo.url + (JSON.parse(res.body) as { url: string }).url;
  return { forwards, received, upstream: echo.url };
}

test('explain prints the upstream URL the gateway really forwards to (base path, query byte for byte)', async (t) => {
  const path = '/plain/x%2By?b=%2f&a=1&a=2&&c=%zz+d';
  const { forwards, received, upstream } = await explainVersusGateway(t, path, {});
  assert.equal(received, `${upstream}/base${path}`);
  assert.equal(forwards, received);
  assert.doesNotMatch(forwards!.replace(/^http:\/\//, ''), /\/\//);
});

test('explain applies strip_path to the URL it prints', async (t) => {
  const path = '/api/users/7?b=%2F&a=1';
  const { forwards, received } = await explainVersusGateway(t, path, { 'x-version': '2' });
  assert.match(received, /\/base\/7\?b=%2F&a=1$/);
  assert.equal(forwards, received);
});

test('explain: exit 1 and "No route matches" when nothing matches', async () => {
  const file = writeConfig(routingConfig());
  const r = await runCli(['explain', '--config', file, 'GET', 'http://shop.example.com/nothing?x=1']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^GET \/nothing\?x=1 {2}\(host: shop\.example\.com\)$/m);
  assert.match(r.stdout, /No route matches/);
  assert.match(r.stdout, /1 candidate for other hosts skipped/);
});

test('init writes a northgate.yaml that validate accepts; a second run refuses without --force', async () => {
  const dir = tempDir();
  const first = await runCli(['init'], { cwd: dir });
  assert.equal(first.code, 0, first.stderr);
  const file = join(dir, 'northgate.yaml');
  const written = readFileSync(file, 'utf8');
  assert.match(written, /_format_version: "1"/);
  const v = await runCli(['validate', '--config', file]);
  assert.equal(v.code, 0, v.stdout);
  assert.equal(v.stdout, 'valid\n');

  writeFileSync(file, '# mine\n');
  const second = await runCli(['init'], { cwd: dir });
  assert.equal(second.code, 1);
  assert.match(second.stderr, /exists; use --force/);
  assert.equal(readFileSync(file, 'utf8'), '# mine\n');

  const forced = await runCli(['init', '--force'], { cwd: dir });
  assert.equal(forced.code, 0);
  assert.equal(readFileSync(file, 'utf8'), written);
});

test('--help works on every command', async () => {
  for (const args of [['--help'], ['help'], ['start', '--help'], ['validate', '--help'], ['routes', '--help'], ['explain', '--help'], ['init', '-h']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /Usage: northgate/, args.join(' '));
  }
});

test('usage errors exit 2: unknown flag (with a hint), unknown command, missing --config', async () => {
  const flag = await runCli(['start', '--wokers', '2']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown flag --wokers/);
  assert.match(flag.stderr, /did you mean --workers\?/);
  assert.equal(flag.stdout, '');

  const cmd = await runCli(['frobnicate']);
  assert.equal(cmd.code, 2);
  assert.match(cmd.stderr, /unknown command "frobnicate"/);

  const none = await runCli(['routes']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /routes needs --config FILE/);

  const workers = await runCli(['start', '--workers', 'many']);
  assert.equal(workers.code, 2);
  assert.match(workers.stderr, /--workers takes a number/);
});

test('start with no --config in an empty dir runs the embedded default with its demo upstream', async (t) => {
  const dir = tempDir();
  let gw: CliGateway | undefined;
  t.after(() => killCli(gw));
  // startCli spawns synchronously before its first await, so the child inherits `dir` as cwd.
  const previous = process.cwd();
  process.chdir(dir);
  let starting: Promise<CliGateway>;
  try {
    starting = startCli([], { NORTHGATE_PROXY_LISTEN: '127.0.0.1:0', NORTHGATE_STATUS_LISTEN: '127.0.0.1:0' });
  } finally {
    process.chdir(previous);
  }
  gw = await starting;
  const start = gw.lines.find((l) => l['type'] === 'start')!;
  assert.equal(start['config'], 'embedded default');
  assert.ok(gw.statusPort !== null);

  const res = await http(`${gw.url}/echo/hello?x=1`);
  assert.equal(res.status, 200, res.body);
  assert.match(String(res.headers['content-type']), /application\/json/);
  assert.equal(res.headers['x-northgate-demo'], 'true');
  const body = JSON.parse(res.body) as { service: string; path: string };
  assert.equal(body.service, 'northgate demo echo');
  assert.equal(body.path, '/hello?x=1');

  const stderr = await stderrIncludes(gw, 'demo upstream on');
  assert.match(stderr, new RegExp(`proxy listening on http://127\\.0\\.0\\.1:${gw.port}`));
  assert.match(stderr, new RegExp(`status on http://127\\.0\\.0\\.1:${gw.statusPort} \\(/healthz, /readyz\\)`));
  assert.match(stderr, /embedded default/);
  assert.match(stderr, /demo upstream on http:\/\/127\.0\.0\.1:[0-9]+/);

  const status = `http://127.0.0.1:${gw.statusPort}`;
  assert.equal((await http(`${status}/readyz`)).status, 200);
  assert.equal((await http(`${status}/healthz`)).status, 200);
  assert.equal(await stopCli(gw), 0);
});
