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

/** Each byte value's two lower-case hex chars, as the big-endian 16-bit value to store. */
const HEX_PAIRS = new Uint16Array(256);
for (let i = 0; i < 256; i++) HEX_PAIRS[i] = (HEX_CHARS[i >> 4]! << 8) | HEX_CHARS[i & 15]!;

/** Writes a word as 8 hex chars at byte `p` of `v`. */
function hexInto(v: DataView, p: number, x: number): void {
  v.setUint16(p, HEX_PAIRS[x >>> 24]!);
  v.setUint16(p + 2, HEX_PAIRS[(x >>> 16) & 255]!);
  v.setUint16(p + 4, HEX_PAIRS[(x >>> 8) & 255]!);
  v.setUint16(p + 6, HEX_PAIRS[x & 255]!);
}

/** Chars of a version-00 traceparent: "00-" trace id (32) "-" span id (16) "-" flags (2). */
export const TRACEPARENT_LENGTH = 55;
const TEMPLATE = '00-00000000000000000000000000000000-0000000000000000-00';

/** Writes the traceparent of trace id words t0..t3 and span id words s0, s1 at byte `p` of `v` (its dashes and version already there). */
function traceparentInto(v: DataView, p: number, t0: number, t1: number, t2: number, t3: number, s0: number, s1: number, sampled: boolean): void {
  hexInto(v, p + 3, t0);
  hexInto(v, p + 11, t1);
  hexInto(v, p + 19, t2);
  hexInto(v, p + 27, t3);
  hexInto(v, p + 36, s0);
  hexInto(v, p + 44, s1);
  v.setUint8(p + 54, sampled ? 49 : 48);
}

/** One traceparent written in place and read as one flat string. */
const oneBytes = Buffer.from(TEMPLATE, 'latin1');
const oneView = new DataView(oneBytes.buffer, oneBytes.byteOffset, oneBytes.length);

/** The traceparent of trace id words t0..t3 and span id words s0, s1, sampled or not; its trace id is chars [3, 35). */
export function wordsTraceparent(t0: number, t1: number, t2: number, t3: number, s0: number, s1: number, sampled: boolean): string {
  traceparentInto(oneView, 0, t0, t1, t2, t3, s0, s1, sampled);
  return oneBytes.toString('latin1', 0, TRACEPARENT_LENGTH);
}

/** Roots drawn per block. */
const ROOTS = 64;

/**
 * New root trace contexts, drawn ahead in blocks of ROOTS: each root's words (trace id t0..t3,
 * the server span's id s0, s1, the first client span's id c0, c1; every id non-zero), its
 * sampling decision, and the traceparent its first upstream attempt sends. The block's
 * traceparents are written into one buffer and read as one string, each root's a slice of
 * it: a request then costs no string of its own (a native call per string costs more than
 * writing its hex). A slice keeps its block's string (3.5 KB) alive as long as it lives:
 * a request's, not longer.
 */
export class RootContexts {
  /** The roots' words, 8 per root: read a root's at `8 * i` after take(). */
  readonly words = new Int32Array(8 * ROOTS);
  readonly #threshold: number;
  readonly #bytes = Buffer.from(TEMPLATE.repeat(ROOTS), 'latin1');
  readonly #view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);
  #traceparents = '';
  #next = ROOTS;

  /** `threshold`: ratioThreshold of the sampling ratio. */
  constructor(threshold: number) {
    this.#threshold = threshold;
  }

  /** The index of the next root (read its words, sampled and traceparent before the next take). */
  take(): number {
    if (this.#next === ROOTS) this.#fill();
    return this.#next++;
  }

  /** Whether root `i` is sampled: by its trace id's last 32 bits, as every process of the trace decides. */
  sampled(i: number): boolean {
    return rootSampled(this.words[8 * i + 3]!, this.#threshold);
  }

  /** Root `i`'s traceparent for its first upstream attempt (its trace id is chars [3, 35)). */
  traceparent(i: number): string {
    const at = i * TRACEPARENT_LENGTH;
    return this.#traceparents.slice(at, at + TRACEPARENT_LENGTH);
  }

  #fill(): void {
    const out = this.words;
    for (let i = 0; i < ROOTS; i++) {
      const w = words;
      let at = takeWords(8);
      while ((w[at]! | w[at + 1]! | w[at + 2]! | w[at + 3]!) === 0 || (w[at + 4]! | w[at + 5]!) === 0 || (w[at + 6]! | w[at + 7]!) === 0) at = takeWords(8);
      out.set(w.subarray(at, at + 8), 8 * i);
      traceparentInto(this.#view, i * TRACEPARENT_LENGTH, w[at]!, w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 6]!, w[at + 7]!, rootSampled(w[at + 3]!, this.#threshold));
    }
    this.#traceparents = this.#bytes.toString('latin1');
    this.#next = 0;
  }
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
