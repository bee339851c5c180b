// W3C Trace Context (traceparent) and the ids and sampling decision of a span: the few
// things tracing needs per request, done without allocating more than the id strings.
import { randomFillSync } from 'node:crypto';

export interface Traceparent {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** Parses a `traceparent` header (W3C Trace Context level 1); null when absent or invalid. */
export function parseTraceparent(value: string | undefined): Traceparent | null {
  // version "-" trace-id(32) "-" parent-id(16) "-" flags(2); later versions may append "-…".
  if (value === undefined || value.length < 55 || (value.length > 55 && (value.startsWith('00') || value.charCodeAt(55) !== 45))) return null;
  if (value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return null;
  const head = value.length === 55 ? value : value.slice(0, 55);
  if (!HEX.test(head.replace(/-/g, '')) || head.startsWith('ff')) return null;
  const traceId = head.slice(3, 35);
  const spanId = head.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, sampled: (parseInt(head.slice(53, 55), 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** A random id of 8 (span) or 16 (trace) bytes as lower-case hex, never all zeros. */
export function randomId(bytes: 8 | 16): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, (offset += bytes));
  return id === ZERO_TRACE || id === ZERO_SPAN ? randomId(bytes) : id;
}

/** A root sampler for `ratio`: decides by the trace id's last 32 bits, so every process decides the same for one trace. */
export function ratioSampler(ratio: number): (traceId: string) => boolean {
  if (ratio >= 1) return () => true;
  if (ratio <= 0) return () => false;
  const threshold = Math.floor(ratio * 0x1_0000_0000);
  return (traceId) => parseInt(traceId.slice(24), 16) < threshold;
}
