// A log sink that fails, with exact counts of what was sent, dropped and retried: a receiver
// answering 500 a few times, one refusing with 400, one that is down and comes back, a slow
// one, and one that never answers while clients keep coming (every client request still
// succeeds; what the full queue cannot hold is dropped and counted; at drain what is still
// held is counted as dropped and the process exits on time).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, sinkCounts, startLogReceiver, type LogReceiver } from '../helpers/log-receiver.js';
import { http, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

let echo: Upstream;
before(async () => {
  echo = await startEchoUpstream();
});
after(async () => {
  await echo.close();
});

/** A gateway with one global http sink named `s` (its other settings as YAML flow-mapping entries). */
function startWithSink(receiver: LogReceiver, sink: string, drain = '5s'): Promise<CliGateway> {
  return startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
shutdown: { drain_timeout: ${drain} }
log_sinks:
  - { name: s, type: http, url: "${receiver.url}/", fields: [path, status], ${sink} }
services:
  - { name: svc, url: "${echo.url}", routes: [{ name: r, paths: ["/"] }] }
`)]);
}

async function requests(gw: CliGateway, n: number, concurrency = 1): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        statuses.push((await http(`${gw.url}/r${i}`)).status);
      }
    }),
  );
  return statuses;
}

test('a receiver answering 500 three times: the batch is retried three times, then all is sent', async () => {
  const receiver = await startLogReceiver((n) => (n < 3 ? 500 : 200));
  const gw = await startWithSink(receiver, 'batch: { max_events: 10, interval: 1h }, retry: { base_delay: 10ms, max_delay: 50ms }');
  try {
    assert.deepEqual(new Set(await requests(gw, 10)), new Set([200]));
    const c = await eventually(() => sinkCounts(gw.statusPort!, 's'), (c) => c.sent === 10);
    assert.deepEqual(c, { sent: 10, queueFull: 0, rejected: 0, shutdown: 0, failed: 3, retried: 3, queued: 0 });
    assert.equal(receiver.posts, 4);
    assert.equal((await receiver.records(10)).length, 10);
    await gw.waitFor((l) => l['type'] === 'log_sink' && l['sink'] === 's' && l['reason'] === 'the receiver answered 500');
  } finally {
    await gw.stop();
    await receiver.close();
  }
});

test('a receiver refusing with 400: the batch is dropped at once, counted as rejected', async () => {
  const receiver = await startLogReceiver(() => 400);
  const gw = await startWithSink(receiver, 'batch: { max_events: 10, interval: 1h }, retry: { base_delay: 10ms }');
  try {
    await requests(gw, 10);
    const c = await eventually(() => sinkCounts(gw.statusPort!, 's'), (c) => c.rejected === 10);
    assert.deepEqual(c, { sent: 0, queueFull: 0, rejected: 10, shutdown: 0, failed: 1, retried: 0, queued: 0 });
    assert.equal(receiver.posts, 1);
  } finally {
    await gw.stop();
    await receiver.close();
  }
});

test('a receiver that is down: the queue holds max_events, the rest is dropped; all held records arrive once it is back', async () => {
  const receiver = await startLogReceiver();
  await receiver.close();
  const gw = await startWithSink(receiver, 'batch: { max_events: 10, interval: 1h }, queue: { max_events: 10 }, retry: { base_delay: 20ms, max_delay: 100ms }');
  try {
    assert.deepEqual(new Set(await requests(gw, 25)), new Set([200]));
    const down = await eventually(() => sinkCounts(gw.statusPort!, 's'), (c) => c.failed >= 2);
    assert.equal(down.queueFull, 15);
    assert.equal(down.queued, 10);
    assert.equal(down.sent, 0);
    assert.ok(down.failed >= 2 && down.retried >= 2);
    await receiver.reopen();
    const records = await receiver.records(10);
    assert.deepEqual(records.map((r) => r['path']), Array.from({ length: 10 }, (_, i) => `/r${i}`), 'the first ten, in order');
    const up = await eventually(() => sinkCounts(gw.statusPort!, 's'), (c) => c.sent === 10);
    assert.equal(up.sent, 10);
    assert.equal(up.queueFull, 15);
    assert.equal(up.retried, up.failed, 'every failed attempt was retried until one succeeded');
    assert.equal(up.queued, 0);
  } finally {
    await gw.stop();
    await receiver.close();
  }
});

test('a slow receiver: nothing is dropped while the queue has room', async () => {
  const receiver = await startLogReceiver(() => ({ status: 200, delayMs: 150 }));
  const gw = await startWithSink(receiver, 'batch: { max_events: 5, interval: 50ms }');
  try {
    assert.deepEqual(new Set(await requests(gw, 40, 4)), new Set([200]));
    const c = await eventually(() => sinkCounts(gw.statusPort!, 's'), (c) => c.sent === 40);
    assert.deepEqual(c, { sent: 40, queueFull: 0, rejected: 0, shutdown: 0, failed: 0, retried: 0, queued: 0 });
    assert.equal(new Set((await receiver.records(40)).map((r) => r['path'])).size, 40);
  } finally {
    await gw.stop();
    await receiver.close();
  }
});

test('a receiver that never answers, under load: every client request succeeds, the overflow is dropped and counted, drain ends on time', async () => {
  const receiver = await startLogReceiver(() => 'hang');
  const gw = await startWithSink(receiver, 'batch: { max_events: 10, interval: 1h }, queue: { max_events: 50 }, timeout: 1m', '1s');
  try {
    const statuses = await requests(gw, 400, 20);
    assert.equal(statuses.length, 400);
    assert.ok(statuses.every((s) => s === 200), 'no client request is slowed into failure by the sink');
    const c = await eventually(() => sinkCounts(gw.statusPort!, 's'), (c) => c.queueFull === 350);
    assert.deepEqual(c, { sent: 0, queueFull: 350, rejected: 0, shutdown: 0, failed: 0, retried: 0, queued: 50 });
    assert.equal(receiver.posts, 1, 'one batch in flight at a time');
    assert.equal(await gw.stop('SIGTERM'), 0);
    const line = gw.lines.find((l) => l['type'] === 'log_sink' && l['msg'] === 'log sink not drained in time; records dropped');
    assert.equal(line?.['abandoned'], 50);
    assert.ok(gw.lines.some((l) => l['type'] === 'log_sink' && l['msg'] === 'log sink queue full; records dropped'), 'the drops are logged');
  } finally {
    await gw.stop('SIGKILL');
    await receiver.close();
  }
});
