// `northgate start` and `validate` when the gateway cannot start: one line on stderr that
// names what failed, no stack trace, and the exit code of docs/operations.md ("Exit codes":
// 2 the config, 3 the host). Each case through the real CLI in a child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, tempDir, writeConfig } from '../helpers/servers.js';

const EXIT_CONFIG = 2;
const EXIT_START_FAILURE = 3;

/** Runs the CLI to its end; a process still running after `timeoutMs` is killed and fails the test. */
async function run(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, `still running after ${opts.timeoutMs ?? 60_000} ms; stderr: ${stderr}`);
  return { code, stdout, stderr };
}

/** One line, no `at file:line` frames of a stack trace. */
function assertOneLine(stderr: string, includes: string[]): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m);
  for (const s of includes) assert.ok(lines[0]!.includes(s), `"${lines[0]}" should include "${s}"`);
}

const SERVICE = `services:
  - name: api
    url: "http://127.0.0.1:9"
    routes: [{ name: api, paths: ["/"] }]
`;

let taken: Server;
let takenPort: number;

before(async () => {
  // A port another process holds for the whole file.
  taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  takenPort = (taken.address() as { port: number }).port;
});
after(() => taken.close());

test('validate: two listeners on one address is a located problem, exit 2', async () => {
  const file = writeConfig(`_format_version: "1"\nlisten: { proxy: "0.0.0.0:18931", status: "127.0.0.1:18931" }\n${SERVICE}`);
  const r = await run(['validate', '--config', file]);
  assert.equal(r.code, EXIT_CONFIG);
  assert.equal(r.stdout, `${file}:2:43 listen.status: 127.0.0.1:18931 is also the address of listen.proxy: two listeners cannot share an address\n`);
  const fine = writeConfig(`_format_version: "1"\nlisten: { proxy: ["127.0.0.1:18931", "[::1]:18931"], status: "127.0.0.1:18932" }\n${SERVICE}`);
  assert.equal((await run(['validate', '--config', fine])).stdout, 'valid\n', 'one port on two distinct addresses is fine');
});

test('start: the proxy address in use: one line naming the listener and the address, exit 3', async () => {
  const file = writeConfig(`_format_version: "1"\nlisten: { proxy: "127.0.0.1:${takenPort}", status: null, admin: null }\n${SERVICE}`);
  const r = await run(['start', '--config', file]);
  assert.equal(r.code, EXIT_START_FAILURE);
  assertOneLine(r.stderr, ['listen.proxy', `127.0.0.1:${takenPort}`, 'already in use']);
});

test('start --workers 2: the proxy address in use stops the start once, exit 3 (no replacement loop)', async () => {
  const file = writeConfig(`_format_version: "1"\nlisten: { proxy: "127.0.0.1:${takenPort}", status: null, admin: null }\n${SERVICE}`);
  const r = await run(['start', '--config', file, '--workers', '2']);
  assert.equal(r.code, EXIT_START_FAILURE);
  assertOneLine(r.stderr, ['listen.proxy', `127.0.0.1:${takenPort}`, 'already in use']);
  assert.doesNotMatch(r.stdout, /starting a replacement/);
});

test('start: the status and admin addresses in use name their listener, exit 3', async () => {
  const status = writeConfig(`_format_version: "1"\nlisten: { proxy: "127.0.0.1:0", status: "127.0.0.1:${takenPort}", admin: null }\n${SERVICE}`);
  const s = await run(['start', '--config', status]);
  assert.equal(s.code, EXIT_START_FAILURE);
  assertOneLine(s.stderr, ['listen.status', `127.0.0.1:${takenPort}`]);
  const admin = writeConfig(`_format_version: "1"\nlisten: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:${takenPort}" }\n${SERVICE}`);
  const a = await run(['start', '--config', admin]);
  assert.equal(a.code, EXIT_START_FAILURE);
  assertOneLine(a.stderr, ['listen.admin', `127.0.0.1:${takenPort}`]);
});

test('start: an address no interface of the host has, exit 3', async () => {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a real host.
  const file = writeConfig(`_format_version: "1"\nlisten: { proxy: "192.0.2.1:18933", status: null, admin: null }\n${SERVICE}`);
  const r = await run(['start', '--config', file]);
  assert.equal(r.code, EXIT_START_FAILURE);
  assertOneLine(r.stderr, ['listen.proxy', '192.0.2.1:18933', 'no network interface']);
});

test('start: a certificate that cannot be read is a located config problem, exit 2', async () => {
  const dir = tempDir();
  const notAFile = join(dir, 'cert.pem');
  mkdirSync(notAFile);
  writeFileSync(join(dir, 'key.pem'), 'not a key');
  const file = writeConfig(`_format_version: "1"
listen:
  proxy: [{ address: "127.0.0.1:0", tls: { certificates: [{ cert: "${notAFile}", key: "${join(dir, 'key.pem')}" }] } }]
  status: null
  admin: null
${SERVICE}`);
  const r = await run(['start', '--config', file]);
  assert.equal(r.code, EXIT_CONFIG);
  assertOneLine(r.stderr, [`${file}:3:`, 'listen.proxy[0].tls.certificates[0]', 'cannot read']);
});

test('start: a config store that cannot be opened, exit 3', async () => {
  const dir = tempDir();
  const aFile = join(dir, 'plain-file');
  writeFileSync(aFile, '');
  // A path under a regular file: no user, root included, can create it.
  const file = writeConfig(`_format_version: "1"\nmode: database\nstore: { url: "sqlite:${aFile}/northgate.db" }\nlisten: { proxy: "127.0.0.1:0", status: null, admin: null }\n`);
  const r = await run(['start', '--config', file]);
  assert.equal(r.code, EXIT_START_FAILURE);
  assertOneLine(r.stderr, ['cannot open the config store', `${aFile}/northgate.db`]);
});
