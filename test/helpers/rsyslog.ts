// A real rsyslogd (Debian's) for the syslog sink's tests: its own config in a temp dir,
// listening on loopback UDP and TCP ports (imudp, imtcp: RFC 6587 octet-counted framing),
// writing every message it parses as one line of `|`-separated RFC 5424 fields to a file the
// test reads. Skipped with a reason when rsyslogd is not installed (a failure under
// NORTHGATE_REQUIRE_SERVICES=1, as .ci/run installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { stablePort } from './ports.js';
import { tempDir } from './servers.js';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

export function rsyslogSkipReason(): string | undefined {
  if (existsSync(RSYSLOGD)) return undefined;
  const reason = `skipped: no rsyslogd at ${RSYSLOGD} (apt-get install rsyslog)`;
  if (process.env['NORTHGATE_REQUIRE_SERVICES'] === '1') throw new Error(`${reason} (NORTHGATE_REQUIRE_SERVICES=1 makes this a failure)`);
  return reason;
}

/** One message as rsyslog parsed it. */
export interface SyslogLine {
  version: string;
  facility: number;
  severity: number;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  msg: string;
}

export interface Rsyslog {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** The messages written so far. */
  lines(): SyslogLine[];
  /** Resolves once `n` messages of `app` were written (rejects after `timeoutMs`). */
  waitFor(app: string, n: number, timeoutMs?: number): Promise<SyslogLine[]>;
  stop(): Promise<void>;
}

/** `ports`: listen where a stopped instance listened (a restart). */
export async function startRsyslog(ports?: { udpPort: number; tcpPort: number }): Promise<Rsyslog> {
  const dir = tempDir('northgate-rsyslog-');
  const out = join(dir, 'messages.log');
  // Below the ephemeral range, so that a restart finds them free again (ports.ts).
  const udpPort = ports?.udpPort ?? (await stablePort({ udp: true }));
  const tcpPort = ports?.tcpPort ?? (await stablePort());
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${dir}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="${udpPort}")
input(type="imtcp" address="127.0.0.1" port="${tcpPort}")
template(name="fields" type="string" string="%protocol-version%|%syslogfacility%|%syslogseverity%|%hostname%|%app-name%|%procid%|%msgid%|%msg%\\n")
*.* action(type="omfile" file="${out}" template="fields")
`,
  );
  const child: ChildProcess = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');
  // Ready once its TCP input accepts (bounded: 100 tries, 50 ms apart).
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`rsyslogd exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(tcpPort, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (i >= 100) {
      child.kill('SIGKILL');
      throw new Error(`rsyslogd did not listen on ${tcpPort}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const lines = (): SyslogLine[] => {
    if (!existsSync(out)) return [];
    return readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [version, facility, severity, hostname, app, procid, msgid, ...rest] = l.split('|');
        return { version: version!, facility: Number(facility), severity: Number(severity), hostname: hostname!, app: app!, procid: procid!, msgid: msgid!, msg: rest.join('|').trim() };
      });
  };
  return {
    udpPort,
    tcpPort,
    lines,
    async waitFor(app, n, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const mine = lines().filter((l) => l.app === app);
        if (mine.length >= n) return mine;
        if (Date.now() > until) throw new Error(`timed out waiting for ${n} messages of ${app}; got ${mine.length}; rsyslogd: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
