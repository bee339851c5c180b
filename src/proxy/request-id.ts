// Request ids the gateway makes when the client sent no sane X-Request-Id: UUID-shaped, a
// random 80-bit prefix drawn once per process (re-drawn when the counter wraps) followed by
// a 48-bit counter. Unique across workers and nodes as long as their prefixes differ (a
// 2^-80 chance per pair of processes), and about 5× cheaper than randomUUID() per request.
// Not a secret and not a v4 UUID: nothing may rely on it being unguessable.
import { randomBytes } from 'node:crypto';

const SPAN = 2 ** 48;
let prefix = newPrefix();
let count = 0;

function newPrefix(): string {
  const h = randomBytes(10).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-`;
}

export function newRequestId(): string {
  if (++count === SPAN) {
    prefix = newPrefix();
    count = 1;
  }
  // SPAN + count has 13 hex digits; dropping the leading 1 pads the counter to 12.
  return prefix + (SPAN + count).toString(16).slice(1);
}
