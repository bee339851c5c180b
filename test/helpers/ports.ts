// Ports for test servers that must come back on the same port (a DNS server restarted with
// other records, a log receiver reopened, a gateway bound to a port chosen for it). A port
// from listen(0) is in the kernel's ephemeral range, which every outgoing connection and
// every other listen(0) of a parallel test draws from: once released, it is soon taken. A port
// below that range is never handed out by the kernel, so only a test that picks the same
// number at random can take it.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 20_000;

/** The first port of the kernel's ephemeral range (Linux; 32768 where it cannot be read). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOWEST + 1000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

async function tcpFree(port: number): Promise<boolean> {
  const s = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise((r) => s.close(r));
  return ok;
}

async function udpFree(port: number): Promise<boolean> {
  const u = createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    u.once('error', () => resolve(false));
    u.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((r) => u.close(() => r()));
  else u.close();
  return ok;
}

/**
 * A port on 127.0.0.1 free now on TCP (and UDP with `udp`), below the ephemeral range, so
 * that it is still free when the test binds it again later. At most 50 tries.
 */
export async function stablePort(opts: { udp?: boolean } = {}): Promise<number> {
  const top = ephemeralStart();
  for (let i = 0; i < 50; i++) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    if (!(await tcpFree(port))) continue;
    if (opts.udp === true && !(await udpFree(port))) continue;
    return port;
  }
  throw new Error(`no free port in ${LOWEST}-${top - 1} after 50 tries`);
}
