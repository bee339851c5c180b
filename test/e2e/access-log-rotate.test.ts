// Log rotation as logrotate does it: rename the access log file, send SIGUSR1, and new lines
// land in a new file at the configured path while the lines written or buffered before the
// signal end up in the renamed one: nothing lost, nothing twice. One process, then two
// workers behind a master that forwards the signal.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { http, runCli, startCli, startUpstream, tempDir, writeConfig, type CliGateway } from '../helpers/servers.js';

function ids(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text === '' ? [] : text.trimEnd().split('\n').map((l) => (JSON.parse(l) as { request_id: string }).request_id);
}

async function send(gw: CliGateway, n: number, tag: string): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${tag}-${i}`;
    const res = await http(`${gw.url}/r/${i}`, { headers: { 'x-request-id': id } });
    assert.equal(res.status, 200);
    sent.push(id);
  }
  return sent;
}

async function rotation(workers: number): Promise<void> {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const dir = tempDir();
  const file = join(dir, 'access.log');
  // Started inside the try: if the gateway never comes up, the upstream must still close.
  let gw: CliGateway | undefined;
  try {
    const g = (gw = await startCli(
      ['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { path: ${file}, fields: [request_id, pid, status] }
services: [{ name: s, url: "${up.url}", routes: [{ paths: ["/r"] }] }]
`), '--workers', String(workers)],
    ));
    const before = await send(g, 20, 'before');
    renameSync(file, `${file}.1`);
    // Served after the rename, before the signal: still written to the renamed file (some
    // of these lines are still in the gateway's buffer when the signal arrives).
    const between = await send(g, 20, 'between');
    const reopened = g.lines.filter((l) => l['msg'] === 'access log file reopened').length;
    g.child.kill('SIGUSR1');
    // Every worker says when it has reopened.
    await g.waitFor(() => g.lines.filter((l) => l['msg'] === 'access log file reopened').length >= reopened + workers, 60_000);
    const afterIds = await send(g, 20, 'after');
    assert.equal(await g.stop(), 0);

    assert.deepEqual(ids(`${file}.1`).sort(), [...before, ...between].sort(), 'the renamed file holds every line from before the signal');
    const fresh = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { request_id: string; pid: number });
    assert.deepEqual(fresh.map((l) => l.request_id).sort(), afterIds.sort(), 'the new file holds every line from after the signal');
    if (workers > 1) assert.equal(new Set(fresh.map((l) => l.pid)).size, workers, 'every worker writes to the new file');
    assert.ok(!g.stderr().includes('Debugger listening'), 'SIGUSR1 does not open the inspector');
  } finally {
    await gw?.stop();
    await up.close();
  }
}

test('SIGUSR1 reopens the access log file (one process)', () => rotation(1));

test('SIGUSR1 to the master reopens the file in every worker', () => rotation(2));

test('an access log path in a missing folder is refused at load, located', async () => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log:
  path: /nonexistent-northgate-dir/access.log
  fields: [request_id, durations_ms]
services: [{ name: s, url: "http://127.0.0.1:1", routes: [{ paths: ["/r"] }] }]
`);
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr + r.stdout, /:4:9 access_log\.path: folder not found: \/nonexistent-northgate-dir/);
  assert.match(r.stderr + r.stdout, /:5:24 access_log\.fields\[1\]: unknown field "durations_ms" \(did you mean "duration_ms"\?\)/);
});
