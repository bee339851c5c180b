// IP addresses and CIDR ranges as config lists give them ("10.0.0.0/8", "::1"), checked at
// load and compiled into node:net BlockLists, which match IPv4 rules against IPv4-mapped
// IPv6 addresses and the reverse.
import { BlockList, isIP } from 'node:net';

/** Whether `text` is an IPv4/IPv6 address, or one with a prefix length that fits its family. */
export function isCidr(text: string): boolean {
  const [ip, bits, extra] = text.split('/');
  if (extra !== undefined || ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** A BlockList of addresses and ranges that passed isCidr. */
export function buildBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [ip, bits] = c.split('/') as [string, string | undefined];
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  return list;
}
