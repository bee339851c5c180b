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

// Ids come from one pool of crypto-random 32-bit words refilled in 64 KB steps (one
// randomFillSync per ~2,000 requests) and are kept as words: an id of 8 bytes is two words,
// a trace id four, each word standing for its 4 bytes in big-endian order (the order the
// encoders write them and the hex below reads them). W3C Trace Context asks for random
// trace ids (level 2 names the right-most 7 bytes as the random part) and unique span ids;
// both are drawn from the CSPRNG here, just not one call per id.
const POOL_WORDS = 16_384;
/** The random words (read them with `words[at + i]` after takeWords). */
export const words = new Int32Array(POOL_WORDS);
let next = POOL_WORDS;

/** Reserves `n` random words of the pool and returns the index of the first (read them before the next take). */
export function takeWords(n: number): number {
  if (next + n > POOL_WORDS) {
    randomFillSync(words);
    next = 0;
  }
  const at = next;
  next += n;
  return at;
}

/** The index of two random words that are not both zero (a valid span id). */
export function takeSpanId(): number {
  let at = takeWords(2);
  while ((words[at]! | words[at + 1]!) === 0) at = takeWords(2);
  return at;
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

/** Each byte value's two lower-case hex chars, as the big-endian 16-bit value to store. */
const HEX_PAIRS = new Uint16Array(256);
for (let i = 0; i < 256; i++) HEX_PAIRS[i] = (HEX_CHARS[i >> 4]! << 8) | HEX_CHARS[i & 15]!;
const traceparentView = new DataView(traceparentBytes.buffer, traceparentBytes.byteOffset, traceparentBytes.length);

/** Writes a word as 8 hex chars into traceparentBytes at `p`. */
function hexInto(p: number, x: number): void {
  const v = traceparentView;
  v.setUint16(p, HEX_PAIRS[x >>> 24]!);
  v.setUint16(p + 2, HEX_PAIRS[(x >>> 16) & 255]!);
  v.setUint16(p + 4, HEX_PAIRS[(x >>> 8) & 255]!);
  v.setUint16(p + 6, HEX_PAIRS[x & 255]!);
}

/** The traceparent of trace id words t0..t3 and span id words s0, s1, sampled or not; its trace id is chars [3, 35). */
export function wordsTraceparent(t0: number, t1: number, t2: number, t3: number, s0: number, s1: number, sampled: boolean): string {
  hexInto(3, t0);
  hexInto(11, t1);
  hexInto(19, t2);
  hexInto(27, t3);
  hexInto(36, s0);
  hexInto(44, s1);
  traceparentBytes[54] = sampled ? 49 : 48;
  return traceparentBytes.toString('latin1', 0, 55);
}

/** A traceparent for the trace id `traceId` (checked lower-case hex) and span id words s0, s1. */
export function hexTraceparent(traceId: string, s0: number, s1: number, sampled: boolean): string {
  return wordsTraceparent(hexWord(traceId, 0), hexWord(traceId, 8), hexWord(traceId, 16), hexWord(traceId, 24), s0, s1, sampled);
}

/** A random id of 8 (span) or 16 (trace) bytes as lower-case hex, never all zeros. */
export function randomId(bytes: 8 | 16): string {
  const n = bytes / 4;
  let at = takeWords(n);
  while (words.subarray(at, at + n).every((x) => x === 0)) at = takeWords(n);
  return Array.from(words.subarray(at, at + n), (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
}

/** The threshold a trace id's last 32 bits are compared with for `ratio` (0: never, 2^32: always). */
export function ratioThreshold(ratio: number): number {
  if (ratio >= 1) return 0x1_0000_0000;
  if (ratio <= 0) return 0;
  return Math.floor(ratio * 0x1_0000_0000);
}

/** Whether a root trace whose id ends in the word `lastWord` is sampled under `threshold` (ratioThreshold): every process decides the same for one trace. */
export function rootSampled(lastWord: number, threshold: number): boolean {
  return lastWord >>> 0 < threshold;
}
