// What keeps a web page the operator visits from driving the admin API or the status
// listener's cache purge. A browser can reach 127.0.0.1 from any page; three checks
// close the ways it can act there:
// - DNS rebinding (a page's own name re-pointed at 127.0.0.1, so the page reads and writes
//   as "same origin"): the `Host` must be a loopback name or address, or one the operator
//   listed. An IP address cannot be re-pointed, so beyond loopback any address is accepted.
// - Cross-site writes: a write whose `Origin` is not the API's own origin (`null`
//   included), or whose `Sec-Fetch-Site` is anything but `same-origin`/`none`, is refused.
// - Writes a page can send without a CORS preflight (`text/plain`, forms): a body must be
//   `application/json` (or another type the endpoint names, none of them CORS-simple).
// The policy is compiled once per listener; each request costs a few string compares.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { ErrorCode } from '../base/errors.js';
import { canonicalAddress, HOST_NAME } from '../config/allowed-hosts.js';

export interface GuardRefusal {
  readonly code: ErrorCode;
  readonly detail: string;
}

export interface HostPolicy {
  /** Exact names and canonical addresses that may appear in `Host`. */
  readonly names: ReadonlySet<string>;
  /** `.example.com` for an allowed `*.example.com`. */
  readonly suffixes: readonly string[];
  /** Any IP address is accepted (the listener is bound beyond loopback). */
  readonly anyAddress: boolean;
  /** For the refusal's detail: what to do instead. */
  readonly hint: string;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isLoopbackAddress(address: string): boolean {
  return LOOPBACK.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The host of a `Host` header (or of an origin's authority): lower-case, without port and
 * without one trailing dot; addresses canonical. null when it is not a host[:port].
 */
export function hostOf(authority: string): string | null {
  const text = authority.toLowerCase();
  let host: string;
  let rest: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end === -1) return null;
    host = text.slice(0, end + 1);
    rest = text.slice(end + 1);
  } else {
    const colon = text.indexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    rest = colon === -1 ? '' : text.slice(colon);
  }
  if (rest !== '' && !/^:[0-9]{1,5}$/.test(rest)) return null;
  if (host.endsWith('.') && !host.startsWith('[')) host = host.slice(0, -1);
  const address = canonicalAddress(host);
  if (address !== null) return address;
  return host.length <= 253 && HOST_NAME.test(host) ? host : null;
}

/**
 * The hosts a listener bound to `bound` answers to: `localhost`, 127.0.0.0/8 and `::1`
 * always; `allowed` (names, `*.name`, addresses) besides; any address when bound beyond
 * loopback. `*.localhost` is not implied: not every resolver keeps those names on loopback.
 */
export function hostPolicy(bound: string, allowed: readonly string[] = [], hint = 'list the other names operators use in admin.allowed_hosts'): HostPolicy {
  const names = new Set<string>(['localhost']);
  const suffixes: string[] = [];
  for (const entry of allowed) {
    if (entry.startsWith('*.')) {
      const host = hostOf(entry.slice(2));
      if (host !== null) suffixes.push(`.${host}`);
    } else {
      const host = hostOf(entry);
      if (host !== null) names.add(host);
    }
  }
  const address = canonicalAddress(bound);
  const beyondLoopback = bound !== 'localhost' && (address === null || !isLoopbackAddress(address));
  // Bound to a name: that name is how operators reach it.
  if (address === null) names.add(bound.toLowerCase().replace(/\.$/, ''));
  return { names, suffixes, anyAddress: beyondLoopback, hint };
}

export function hostAllowed(policy: HostPolicy, host: string): boolean {
  if (policy.names.has(host)) return true;
  if (isIP(host) !== 0) return policy.anyAddress || isLoopbackAddress(host);
  for (const s of policy.suffixes) if (host.endsWith(s)) return true;
  return false;
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Why this request is refused for its `Host`, or, for a write, its `Origin` or `Sec-Fetch-Site`; null when it passes. */
export function guardRequest(req: IncomingMessage, policy: HostPolicy): GuardRefusal | null {
  const hostHeader = req.headers.host;
  const host = hostHeader === undefined ? null : hostOf(hostHeader);
  if (host === null || !hostAllowed(policy, host)) {
    const shown = hostHeader === undefined ? 'no Host header' : `Host "${hostHeader.slice(0, 100)}"`;
    return {
      code: 'host-not-allowed',
      detail: `${shown}: this endpoint answers to localhost, 127.0.0.1 and [::1]${policy.anyAddress ? ' and IP addresses' : ''} (a name re-pointed here by DNS is how a web page would reach it); ${policy.hint}`,
    };
  }
  if (!WRITE_METHODS.has(req.method ?? '')) return null;
  const site = headerText(req.headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { code: 'cross-site-request', detail: `a write from a web page (Sec-Fetch-Site: ${site.slice(0, 40)}) is refused: send it from a script or a tool, not a browser` };
  }
  const origin = headerText(req.headers.origin);
  if (origin !== undefined && !sameOrigin(origin, hostHeader!)) {
    return { code: 'cross-site-request', detail: `a write from another origin (Origin: ${origin.slice(0, 100)}) is refused: send it from a script or a tool, not a browser` };
  }
  return null;
}

/** 415 for a write whose body is not of an accepted media type; a DELETE without a body passes. */
export function bodyTypeRefusal(req: IncomingMessage, accepted: readonly string[]): GuardRefusal | null {
  if (!WRITE_METHODS.has(req.method ?? '')) return null;
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (req.method === 'DELETE' && !hasBody) return null;
  const problem = mediaTypeProblem(headerText(req.headers['content-type']), accepted);
  return problem === null ? null : { code: 'unsupported-media-type', detail: problem };
}

/** `Origin` equal to the request's own origin: http(s)://Host (default ports aside). */
function sameOrigin(origin: string, host: string): boolean {
  const m = /^(https?):\/\/([^/?#@]+)$/i.exec(origin);
  if (!m) return false;
  const strip = (authority: string, scheme: string) => authority.toLowerCase().replace(scheme === 'https' ? /:443$/ : /:80$/, '');
  const scheme = m[1]!.toLowerCase();
  return strip(m[2]!, scheme) === strip(host, scheme);
}

/** Why a body of this Content-Type is refused, or null. Parameters are allowed; a charset must be UTF-8. */
export function mediaTypeProblem(header: string | undefined, accepted: readonly string[]): string | null {
  const want = accepted.join(', ');
  if (header === undefined) return `a body needs "Content-Type: ${accepted[0]}" (accepted here: ${want})`;
  const [essence, ...params] = header.split(';');
  const type = essence!.trim().toLowerCase();
  if (!accepted.includes(type)) return `Content-Type "${header.slice(0, 100)}" is not accepted here; send ${want}`;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq === -1 || p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return `the body must be UTF-8 (Content-Type says charset=${charset.slice(0, 40)})`;
  }
  return null;
}
