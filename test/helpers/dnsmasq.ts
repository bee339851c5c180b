// A real DNS server for the SRV tests: Debian's dnsmasq, started per test file on a loopback
// port with its records on the command line (no config file, no hosts file, no upstream
// servers). Records change by restarting it on the same port, one below the kernel's ephemeral range
// (ports.ts), which no parallel test's connection or listen(0) takes meanwhile. When the binary is missing
// the tests report "skipped: no dnsmasq at ..." — unless NORTHGATE_REQUIRE_SERVICES=1,
// where that is a failure (.ci/run installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { stablePort } from './ports.js';

export const DNSMASQ = process.env['DNSMASQ'] ?? '/usr/sbin/dnsmasq';
const REQUIRED = process.env['NORTHGATE_REQUIRE_SERVICES'] === '1';

export function dnsmasqSkipReason(): string | undefined {
  if (existsSync(DNSMASQ)) return undefined;
  const reason = `skipped: no dnsmasq at ${DNSMASQ} (apt-get install dnsmasq-base)`;
  if (REQUIRED) throw new Error(`${reason} (NORTHGATE_REQUIRE_SERVICES=1 makes this a failure)`);
  return reason;
}

export interface SrvRecordSpec {
  readonly service: string;
  /** Target host name; "." for "no service here". */
  readonly target: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

export interface Zone {
  readonly srv: readonly SrvRecordSpec[];
  /** name → IPv4 address. */
  readonly hosts: Readonly<Record<string, string>>;
  /** TTL of every record, in seconds. */
  readonly ttl: number;
  /** Largest UDP answer (EDNS0); a smaller one makes big answers truncated, to be asked again over TCP. */
  readonly udpMax?: number;
}

export interface Dnsmasq {
  readonly port: number;
  /** Restarts the server on the same port with other records (names under .example only). */
  load(zone: Zone): Promise<void>;
  /** Stops answering (the process exits; the port stays reserved for a later load). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

function args(port: number, zone: Zone): string[] {
  return [
    '--no-daemon',
    '--keep-in-foreground',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    '--pid-file=',
    // Authoritative for *.example: a name it has no record for is "no such name", not "refused".
    '--local=/example/',
    `--local-ttl=${zone.ttl}`,
    `--auth-ttl=${zone.ttl}`,
    ...(zone.udpMax !== undefined ? [`--edns-packet-max=${zone.udpMax}`] : []),
    ...zone.srv.map((r) => (r.target === '.' ? `--srv-host=${r.service}` : `--srv-host=${r.service},${r.target},${r.port},${r.priority},${r.weight}`)),
    ...Object.entries(zone.hosts).map(([name, address]) => `--host-record=${name},${address}`),
  ];
}

/** Another process may take the port between the probe and dnsmasq's bind: a few tries, each on a new port. */
export async function startDnsmasq(zone: Zone): Promise<Dnsmasq> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOn(await stablePort({ udp: true }), zone);
    } catch (err) {
      if (attempt >= 4 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOn(port: number, zone: Zone): Promise<Dnsmasq> {
  let child: ChildProcess | null = null;
  let output = '';
  const stop = async () => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null) return;
    c.kill('SIGTERM');
    await once(c, 'exit');
  };
  const load = async (z: Zone) => {
    await stop();
    output = '';
    const c = spawn(DNSMASQ, args(port, z), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    // Ready once it answers "no such name" for a name it has no record of: at most 50 tries, 100 ms apart.
    const probe = new Resolver({ timeout: 100, tries: 1 });
    probe.setServers([`127.0.0.1:${port}`]);
    for (let i = 0; i < 50; i++) {
      if (c.exitCode !== null) throw new Error(`dnsmasq exited: ${output}`);
      const answered = await probe.resolveSrv('_probe._tcp.ready.example').then(
        () => true,
        (err: { code?: string }) => err.code === 'ENOTFOUND',
      );
      if (answered) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    await stop();
    throw new Error(`dnsmasq did not answer on 127.0.0.1:${port}: ${output}`);
  };
  // A test file that dies without its after() hook must not leave a DNS server behind.
  const kill = () => child?.kill('SIGTERM');
  process.once('exit', kill);
  await load(zone);
  return { port, load, stop, close: async () => (process.off('exit', kill), await stop()) };
}
