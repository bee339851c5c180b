// The master of `--workers N` talks to its workers over IPC (reloads, rate-limit counters,
// prom-client's metrics requests). A worker killed while such a message is on its way makes
// the master's send fail (EPIPE, a closed channel): the master must log it, replace the worker
// and keep serving, never exit. Real CLI, real signals; bounded in rounds and requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { http, startCli, startUpstream, writeConfig } from '../helpers/servers.js';

test('--workers 2: workers killed while /metrics requests fan out to them do not stop the master', { timeout: 120_000 }, async () => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const file = writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
services:
  - name: s
    url: "${up.url}"
    routes:
      - { name: r, paths: ["/"] }
`);
  const gw = await startCli(['--config', file, '--workers', '2']);
  const status = `http://127.0.0.1:${gw.statusPort}`;
  const pids = new Set<number>();
  try {
    const masterPid = gw.child.pid!;
    /** Worker pids from access lines: fresh connections until `n` pids other than `exclude` answered (bounded). */
    const workers = async (n: number, exclude: Set<number>): Promise<number[]> => {
      const seen = new Set<number>();
      for (let i = 0; i < 60 && seen.size < n; i++) {
        const r = await http(`${gw.url}/x`, { headers: { connection: 'close' } });
        assert.equal(r.status, 200);
        const line = await gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === r.headers['x-request-id']);
        const pid = line['pid'] as number;
        pids.add(pid);
        if (pid !== masterPid && !exclude.has(pid)) seen.add(pid);
      }
      return [...seen];
    };
    const killed = new Set<number>();
    for (let round = 0; round < 4; round++) {
      const [victim] = await workers(1, killed);
      assert.ok(victim !== undefined, 'a live worker answered');
      const exitLine = gw.waitFor((l) => l['msg'] === 'worker exited unexpectedly; starting a replacement' && l['worker_pid'] === victim, 30_000);
      // Metrics requests in flight before, at and after the kill: each fans out to every worker.
      let stop = false;
      const hammer = async (): Promise<void> => {
        for (let i = 0; i < 200 && !stop && gw.child.exitCode === null; i++) await http(`${status}/metrics`).catch(() => undefined);
      };
      const load = Array.from({ length: 8 }, hammer);
      await new Promise((r) => setTimeout(r, 30));
      process.kill(victim, 'SIGKILL');
      killed.add(victim);
      await exitLine;
      stop = true;
      await Promise.all(load);
      assert.equal(gw.child.exitCode, null, `the master is alive after round ${round}; stderr: ${gw.stderr()}`);
      for (let i = 0; i < 600 && (await http(`${status}/readyz`).catch(() => ({ status: 0 }))).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    }
    const metrics = await http(`${status}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /northgate_http_requests_total/);
    assert.equal((await http(`${gw.url}/x`)).status, 200);
  } finally {
    for (const pid of pids) {
      try {
        if (pid !== gw.child.pid) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await gw.stop('SIGKILL');
    await up.close();
  }
});
