// `admin.allowed_hosts`: the names and addresses besides loopback that the admin API and
// the status listener answer to (their Host check is runtime/request-guard.ts). The syntax
// is shared: the config check here, the runtime policy there.
import { isIP } from 'node:net';
import type { ConfigProblem } from '../base/problems.js';

/** A DNS name of letters, digits, "-" and "_" labels, lower case. */
export const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** A canonical IP address (`[::1]` → `::1`, `0:0::1` → `::1`), or null for a name. */
export function canonicalAddress(host: string): string | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 0) return null;
  return family === 6 ? new URL(`http://[${bare}]`).hostname.slice(1, -1) : bare;
}

/** Problems of `admin.allowed_hosts` entries (names, `*.name`, addresses; no port). */
export function allowedHostsProblems(list: readonly string[] | undefined, at: Array<string | number>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  (list ?? []).forEach((entry, i) => {
    const wildcard = entry.startsWith('*.');
    const bare = (wildcard ? entry.slice(2) : entry).toLowerCase().replace(/\.$/, '');
    const ok = wildcard ? isIP(bare) === 0 && HOST_NAME.test(bare) : canonicalAddress(bare) !== null || HOST_NAME.test(bare);
    if (!ok) problems.push({ path: [...at, i], message: `"${entry}" is not a host name, "*.name" or an IP address (no port, no scheme)` });
  });
  return problems;
}
