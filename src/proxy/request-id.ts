// Request ids the gateway makes when the client sent no sane X-Request-Id: UUID-shaped, a
// random 80-bit prefix drawn once per process (re-drawn when the counter wraps) followed by
// a 48-bit counter. Unique across workers and nodes as long as their prefixes differ (a
// 2^-80 chance per pair of processes), and about half the cost of randomUUID() per request.
// Not a secret and not a v4 UUID: nothing may rely on it being unguessable.
import { randomBytes } from 'node:crypto';

// The counter in two parts that stay small integers: Number#toString(16) of a value above
// 2^31 takes V8's slow double path (~200 ns), of a small integer ~40 ns.
const LOW_SPAN = 0x10000000; // 7 hex digits
const HIGH_SPAN = 0x100000; // 5 hex digits
let prefix = newPrefix();
let high = 0;
let highText = '00000';
let low = 0;

function newPrefix(): string {
  const h = randomBytes(10).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-`;
}

export function newRequestId(): string {
  if (++low === LOW_SPAN) {
    low = 0;
    if (++high === HIGH_SPAN) {
      high = 0;
      prefix = newPrefix();
    }
    highText = (HIGH_SPAN + high).toString(16).slice(1);
  }
  // LOW_SPAN + low has 8 hex digits; dropping the leading 1 pads the low part to 7.
  return prefix + highText + (LOW_SPAN + low).toString(16).slice(1);
}
