// The syslog log sink against Debian's rsyslogd, started by the test with its own config
// (UDP and TCP inputs on loopback, every parsed message written to a file the test reads),
// and over TLS against a node TLS receiver (Debian's rsyslog here has no TLS driver: the
// gtls/ossl modules are separate packages) that checks the RFC 6587 octet-counted framing
// byte by byte. Messages are RFC 5424: version 1, the configured facility, severity info
// (warning for a 5xx), the app name, the pid, MSGID "access", the record's JSON as MSG, with
// non-ASCII text counted in bytes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { CertDir } from '../helpers/certs.js';
import { eventually, sinkCounts } from '../helpers/log-receiver.js';
import { rsyslogSkipReason, startRsyslog, type Rsyslog } from '../helpers/rsyslog.js';
import { http, startCli, startEchoUpstream, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const skip = rsyslogSkipReason();
const NOTE = 'grüße ✓';
let rsyslog: Rsyslog;
let echo: Upstream;
let tls: TlsServer;
let tlsPort: number;
/** Messages the TLS receiver parsed, and framing errors it saw. */
const tlsMessages: string[] = [];
const framingErrors: string[] = [];
let gw: CliGateway;

/** Reads octet-counted frames (`LEN SP MSG`, LEN in bytes) from a stream; anything else is a framing error. */
function readFrames(onMessage: (m: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const space = buf.indexOf(0x20);
      if (space === -1) return;
      const len = buf.subarray(0, space).toString('latin1');
      if (!/^[1-9][0-9]{0,8}$/.test(len)) {
        framingErrors.push(`bad length ${JSON.stringify(len)}`);
        buf = Buffer.alloc(0);
        return;
      }
      const end = space + 1 + Number(len);
      if (buf.length < end) return;
      onMessage(buf.subarray(space + 1, end).toString('utf8'));
      buf = buf.subarray(end);
    }
  };
}

before(async () => {
  if (skip !== undefined) return;
  rsyslog = await startRsyslog();
  echo = await startEchoUpstream();
  const certs = new CertDir().ca('ca').leaf('syslog', 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1');
  tls = createTlsServer({ cert: certs.read('syslog.crt'), key: certs.read('syslog.key') }, (socket) => {
    socket.on('data', readFrames((m) => tlsMessages.push(m)));
    socket.on('error', () => undefined);
  });
  tls.listen(0, '127.0.0.1');
  await once(tls, 'listening');
  tlsPort = (tls.address() as AddressInfo).port;
  const dead = await startUpstream(() => undefined);
  await dead.close();
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
log_sinks:
  - { name: udp, type: syslog, address: "127.0.0.1:${rsyslog.udpPort}", facility: 19, app_name: ng-udp, fields: [path, status, req.h.x-note], batch: { interval: 100ms } }
  - { name: tcp, type: syslog, transport: tcp, address: "127.0.0.1:${rsyslog.tcpPort}", app_name: ng-tcp, fields: [path, status, req.h.x-note], batch: { max_events: 3, interval: 100ms } }
  - name: tls
    type: syslog
    transport: tls
    address: "localhost:${tlsPort}"
    tls: { ca: "${certs.path('ca.crt')}" }
    app_name: ng-tls
    fields: [path, status, req.h.x-note]
    batch: { max_events: 2, interval: 100ms }
services:
  - { name: ok, url: "${echo.url}", routes: [{ name: ok, paths: ["/ok"] }] }
  - { name: dead, url: "http://127.0.0.1:${dead.port}", routes: [{ name: dead, paths: ["/dead"] }] }
`)]);
});
after(async () => {
  await gw?.stop();
  await rsyslog?.stop();
  await echo?.close();
  tls?.close();
});

async function send(): Promise<void> {
  // The header's UTF-8 bytes as node's client writes a latin1 string: the gateway reads them back as UTF-8.
  const note = Buffer.from(NOTE).toString('latin1');
  for (let i = 0; i < 4; i++) assert.equal((await http(`${gw.url}/ok/${i}`, { headers: { 'x-note': note } })).status, 200);
  assert.equal((await http(`${gw.url}/dead`, { headers: { 'x-note': note } })).status, 502);
}

test('RFC 5424 over UDP and TCP (octet-counted) to rsyslogd, and over TLS', { skip }, async () => {
  await send();
  for (const [app, facility] of [['ng-udp', 19], ['ng-tcp', 16]] as const) {
    const lines = await rsyslog.waitFor(app, 5);
    assert.equal(lines.length, 5, `${app}: each request once`);
    for (const l of lines) {
      assert.equal(l.version, '1');
      assert.equal(l.facility, facility);
      assert.equal(l.msgid, 'access');
      assert.match(l.procid, /^\d+$/);
      const record = JSON.parse(l.msg) as Record<string, unknown>;
      assert.equal(record['req.h.x-note'], NOTE);
      assert.equal(l.severity, record['status'] === 502 ? 4 : 6);
    }
    assert.deepEqual(lines.map((l) => (JSON.parse(l.msg) as { path: string }).path).sort(), ['/dead', '/ok/0', '/ok/1', '/ok/2', '/ok/3']);
  }
  await eventually(async () => tlsMessages.length, (n) => n >= 5);
  assert.deepEqual(framingErrors, []);
  assert.equal(tlsMessages.length, 5);
  for (const m of tlsMessages) {
    const match = /^<(\d+)>1 (\S+) (\S+) ng-tls (\d+) access - (.*)$/s.exec(m);
    assert.ok(match, m);
    const record = JSON.parse(match[5]!) as Record<string, unknown>;
    assert.equal(Number(match[1]), 16 * 8 + (record['status'] === 502 ? 4 : 6));
    assert.ok(!Number.isNaN(Date.parse(match[2]!)), 'an RFC 3339 timestamp');
    assert.equal(record['req.h.x-note'], NOTE);
  }
  for (const sink of ['udp', 'tcp', 'tls']) {
    const c = await eventually(() => sinkCounts(gw.statusPort!, sink), (c) => c.sent === 5);
    assert.deepEqual(c, { sent: 5, queueFull: 0, rejected: 0, shutdown: 0, failed: 0, retried: 0, queued: 0 }, sink);
  }
});

test('TCP: rsyslogd stopped and started again; the batch is retried on a new connection', { skip }, async () => {
  await rsyslog.stop();
  const before = (await sinkCounts(gw.statusPort!, 'tcp')).sent;
  for (let i = 0; i < 3; i++) assert.equal((await http(`${gw.url}/ok/again${i}`)).status, 200);
  const down = await eventually(() => sinkCounts(gw.statusPort!, 'tcp'), (c) => c.failed >= 1);
  assert.ok(down.failed >= 1 && down.retried >= 1, JSON.stringify(down));
  assert.equal(down.sent, before);
  rsyslog = await startRsyslog({ udpPort: rsyslog.udpPort, tcpPort: rsyslog.tcpPort });
  const lines = await rsyslog.waitFor('ng-tcp', 3);
  assert.deepEqual(lines.map((l) => (JSON.parse(l.msg) as { path: string }).path), ['/ok/again0', '/ok/again1', '/ok/again2']);
  const up = await eventually(() => sinkCounts(gw.statusPort!, 'tcp'), (c) => c.sent === before + 3);
  assert.equal(up.sent, before + 3);
  assert.equal(up.queueFull + up.rejected, 0);
});
