import { isIP } from 'node:net';

export interface ParsedAddress { host: string; port: number }

/** "0.0.0.0:8000", "[::1]:8000", "localhost:8000", ":8000" (all interfaces). */
export function parseAddress(text: string): ParsedAddress | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):([0-9]{1,5})$/.exec(text);
  if (!m) return 'must be host:port, e.g. "0.0.0.0:8000" or "[::1]:8000"';
  const port = Number(m[3]);
  if (port > 65535) return 'port must be 0-65535';
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!);
  if (m[1] !== undefined && isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
