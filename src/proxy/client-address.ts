// The client's address behind trusted proxies: X-Forwarded-For read from the right, past the
// hops that are trusted proxies themselves, taking only what parses as an IP address. A hop
// that is not one (`unknown`, `999.1.1.1`, `01.2.3.4`, `fe80::1%eth0`, a host name) stops the
// walk at the nearest valid address to its right, so text a client chose never becomes the
// address that rate limits, quotas and ip-restriction count by.
import { isIPv4, isIPv6, type BlockList } from 'node:net';

/** Hops read from the right at most; a longer chain stops at the last one read, like an invalid hop. */
export const MAX_FORWARDED_HOPS = 32;

/** Longer than any address with a port (`[ffff:…:255.255.255.255]:65535` is 53 characters). */
const MAX_HOP_CHARS = 64;
const PORT = /^:[0-9]{1,5}$/;

/**
 * The client address from an X-Forwarded-For value received from the trusted proxy `peer`:
 * the right-most hop that is not in `trusted`; when a hop is no IP address or the chain is
 * longer than MAX_FORWARDED_HOPS, the nearest valid address on its right (the last trusted
 * hop read, else the peer). Empty list elements are skipped (RFC 9110 §5.6.1).
 */
export function forwardedClient(xff: string, peer: string, trusted: BlockList): string {
  let nearest = peer;
  let end = xff.length;
  for (let n = 0; n < MAX_FORWARDED_HOPS; n++) {
    const comma = end === 0 ? -1 : xff.lastIndexOf(',', end - 1);
    const ip = hopAddress(xff.slice(comma + 1, end));
    if (ip === null) return nearest;
    if (ip !== '') {
      if (!trusted.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4')) return ip;
      nearest = ip;
    }
    if (comma === -1) return nearest;
    end = comma;
  }
  return nearest;
}

/**
 * One X-Forwarded-For element as an address in one spelling: "" for an empty element, null
 * for anything that is not an address. `1.2.3.4:80`, `[2001:db8::1]:80` and `[2001:db8::1]`
 * lose their port and brackets (some proxies add the client's port); IPv4 with leading
 * zeros (read as octal by some parsers) and IPv6 with a zone (meaningless off its host) are
 * refused. IPv6 is written in its canonical form (RFC 5952), IPv4-mapped IPv6 as IPv4.
 */
export function hopAddress(hop: string): string | null {
  let h = hop.trim();
  if (h === '') return '';
  if (h.length > MAX_HOP_CHARS) return null;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const close = h.indexOf(']');
    if (close === -1) return null;
    const rest = h.slice(close + 1);
    if (rest !== '' && !validPort(rest)) return null;
    h = h.slice(1, close);
    return ipv6(h);
  }
  const colon = h.indexOf(':');
  if (colon === -1) return isIPv4(h) ? h : null;
  if (h.indexOf(':', colon + 1) === -1) {
    // One colon: IPv4 with a port (an IPv6 address has at least two).
    if (!validPort(h.slice(colon))) return null;
    h = h.slice(0, colon);
    return isIPv4(h) ? h : null;
  }
  return ipv6(h);
}

function validPort(text: string): boolean {
  return PORT.test(text) && Number(text.slice(1)) <= 65535;
}

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * Already in RFC 5952 form, as proxies write it: lower-case hex, no leading zeros, no run of
 * zero groups left uncompressed or beside "::", no "::" standing for a single group (7
 * groups written), not IPv4-mapped.
 */
const LOOKS_CANONICAL = /^(?!::ffff:)(?!.*(?:^|:)0[0-9a-f])(?!.*(?:^|:)0:0(?::|$))(?!.*(?:^|:)0::)(?!.*::0(?::|$))[0-9a-f:]+$/;

function ipv6(h: string): string | null {
  if (h.includes('%') || !isIPv6(h)) return null;
  if (LOOKS_CANONICAL.test(h) && !(h.includes('::') && h.split(':').filter((g) => g !== '').length === 7)) return h;
  // The URL parser writes IPv6 hosts in RFC 5952 form: one address, one spelling, one bucket.
  const canonical = new URL(`http://[${h}]/`).hostname.slice(1, -1);
  const mapped = MAPPED_HEX.exec(canonical);
  if (mapped === null) return canonical;
  // IPv4-mapped (the URL parser writes its IPv4 part in hex): the IPv4 address.
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
