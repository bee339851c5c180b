// W3C Trace Context (traceparent) and the ids and sampling decision of a span: the few
// things tracing needs per request, done without allocating more than the id strings.
import { randomFillSync } from 'node:crypto';

export interface Traceparent {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** Whether chars [from, to) of `v` are lower-case hex. */
function isHex(v: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = v.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** Parses a `traceparent` header (W3C Trace Context level 1); null when absent or invalid. */
export function parseTraceparent(value: string | undefined): Traceparent | null {
  // version "-" trace-id(32) "-" parent-id(16) "-" flags(2); later versions may append "-…".
  if (value === undefined || value.length < 55 || (value.length > 55 && (value.startsWith('00') || value.charCodeAt(55) !== 45))) return null;
  if (value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return null;
  if (!isHex(value, 0, 2) || !isHex(value, 3, 35) || !isHex(value, 36, 52) || !isHex(value, 53, 55) || value.startsWith('ff')) return null;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  const flags = value.charCodeAt(54);
  // The sampled flag is bit 0 of the flags byte: its low hex digit is odd.
  return { traceId, spanId, sampled: (flags <= 57 ? flags - 48 : flags - 87) % 2 === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

// Ids come from one pool of crypto-random bytes refilled in 64 KB steps (one randomFillSync
// per ~2,700 requests), turned into hex only for what is written: W3C Trace Context asks for
// random trace ids (level 2 names the right-most 7 bytes as the random part) and unique span
// ids; both are drawn from the CSPRNG here, just not one call per id.
const POOL_BYTES = 65_536;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** Reserves `bytes` random bytes of the pool and returns their offset (read with idHex, idUint32, idInt32 or poolTraceparent before the next take). */
export function takeRandom(bytes: number): number {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

/** Lower-case hex of pool bytes [at, at + bytes). */
export function idHex(at: number, bytes: number): string {
  return pool.toString('hex', at, at + bytes);
}

/** Bytes [at, at + 4) of the pool as a big-endian unsigned integer. */
export function idUint32(at: number): number {
  return pool.readUInt32BE(at);
}

/** Lower-case hex digits by value, and the value of a lower-case hex digit by char code. */
export const HEX_CHARS = Buffer.from('0123456789abcdef');
const HEX_VALUE = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX_VALUE[HEX_CHARS[i]!] = i;

/** Chars [at, at + 8) of lower-case hex (a checked or generated id) as a 32-bit word (int32). */
export function hexWord(hex: string, at: number): number {
  let x = 0;
  for (let i = at; i < at + 8; i++) x = (x << 4) | HEX_VALUE[hex.charCodeAt(i)]!;
  return x;
}
/** "00-" trace id "-" span id "-01": a traceparent written in place, read as one flat string. */
const traceparentBytes = Buffer.from('00-00000000000000000000000000000000-0000000000000000-01', 'latin1');

/**
 * A sampled (`sampled` true) or sampled-out traceparent for the trace id at pool offset
 * `traceAt` (16 bytes) and the span id at `spanAt` (8 bytes); its trace id is chars [3, 35).
 */
export function poolTraceparent(traceAt: number, spanAt: number, sampled: boolean): string {
  const out = traceparentBytes;
  let p = 3;
  for (let i = traceAt; i < traceAt + 16; i++) {
    const b = pool[i]!;
    out[p++] = HEX_CHARS[b >> 4]!;
    out[p++] = HEX_CHARS[b & 15]!;
  }
  p++;
  for (let i = spanAt; i < spanAt + 8; i++) {
    const b = pool[i]!;
    out[p++] = HEX_CHARS[b >> 4]!;
    out[p++] = HEX_CHARS[b & 15]!;
  }
  out[54] = sampled ? 49 : 48;
  return out.toString('latin1', 0, 55);
}

/** Bytes [at, at + 4) of the pool as a big-endian 32-bit word (int32). */
export function idInt32(at: number): number {
  return pool.readInt32BE(at);
}

/** Whether pool bytes [at, at + bytes) are all zero (an invalid id: drawn again). */
export function idIsZero(at: number, bytes: number): boolean {
  for (let i = at; i < at + bytes; i++) if (pool[i] !== 0) return false;
  return true;
}

/** A random id of 8 (span) or 16 (trace) bytes as lower-case hex, never all zeros. */
export function randomId(bytes: 8 | 16): string {
  let at = takeRandom(bytes);
  while (idIsZero(at, bytes)) at = takeRandom(bytes);
  return idHex(at, bytes);
}

/** The threshold a trace id's last 32 bits are compared with for `ratio` (0: never, 2^32: always). */
export function ratioThreshold(ratio: number): number {
  if (ratio >= 1) return 0x1_0000_0000;
  if (ratio <= 0) return 0;
  return Math.floor(ratio * 0x1_0000_0000);
}

/** A root sampler for `ratio`: decides by the trace id's last 32 bits, so every process decides the same for one trace. */
export function ratioSampler(ratio: number): (traceId: string) => boolean {
  const threshold = ratioThreshold(ratio);
  if (threshold === 0x1_0000_0000) return () => true;
  if (threshold === 0) return () => false;
  return (traceId) => parseInt(traceId.slice(24), 16) < threshold;
}
