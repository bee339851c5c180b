// Response header names as undici hands them over (raw Buffers), or as the native engine's
// parser gives them (strings): the common ones are matched byte by byte against a fixed
// table and returned as interned lower-case strings (as HTTP/2 writes them), so copying a
// response head allocates no string for them and the hop-by-hop check compares constants.
// Other names are kept as sent, case kept.
//
// The match ORs 0x20 into each byte, which lower-cases letters; for the bytes an HTTP token
// may hold (llhttp has checked them) it maps nothing else onto a letter, digit or '-'.

const COMMON = [
  'accept-ranges', 'access-control-allow-credentials', 'access-control-allow-headers', 'access-control-allow-methods',
  'access-control-allow-origin', 'access-control-expose-headers', 'access-control-max-age', 'age', 'alt-svc',
  'cache-control', 'connection', 'content-disposition', 'content-encoding', 'content-language', 'content-length',
  'content-location', 'content-range', 'content-security-policy', 'content-type', 'date', 'etag', 'expires',
  'grpc-message', 'grpc-status', 'keep-alive', 'last-modified', 'link', 'location', 'pragma', 'proxy-connection',
  'referrer-policy', 'retry-after', 'server', 'set-cookie', 'strict-transport-security', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'vary', 'via', 'www-authenticate', 'x-content-type-options', 'x-frame-options',
  'x-powered-by', 'x-request-id',
];

interface Known {
  readonly bytes: Uint8Array;
  readonly name: string;
}

/** Known names by length. */
const BY_LENGTH: Known[][] = [];
for (const name of COMMON) (BY_LENGTH[name.length] ??= []).push({ bytes: Buffer.from(name, 'latin1'), name });

/** The header name in `raw`: an interned lower-case string when it is a common one, else its latin1 text. */
export function headerName(raw: Buffer): string {
  const len = raw.length;
  const known = BY_LENGTH[len];
  if (known !== undefined) {
    next: for (let k = 0; k < known.length; k++) {
      const c = known[k]!;
      const b = c.bytes;
      for (let i = 0; i < len; i++) if ((raw[i]! | 0x20) !== b[i]) continue next;
      return c.name;
    }
  }
  return raw.toString('latin1');
}

/** headerName() for a name the parser already decoded: the interned lower-case string when it is a common one, else `raw` itself. */
export function headerNameOf(raw: string): string {
  const len = raw.length;
  const known = BY_LENGTH[len];
  if (known !== undefined) {
    next: for (let k = 0; k < known.length; k++) {
      const c = known[k]!;
      const b = c.bytes;
      for (let i = 0; i < len; i++) if ((raw.charCodeAt(i) | 0x20) !== b[i]) continue next;
      return c.name;
    }
  }
  return raw;
}
