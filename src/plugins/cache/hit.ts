// What a cache hit writes, built once per memory-store entry on its first hit (a miss,
// which stores, pays nothing for it; a Redis entry is decoded afresh on every lookup and so
// builds one per hit): the flat header list for writeHead with Content-Length, X-Cache and a
// slot for Age, the same for a 304, and an ASCII body as a string. A hit then copies one
// array, fills in Age (a string memoised per second) and hands the list to the core.
import { isAscii } from 'node:buffer';
import { LocalReply } from '../../sdk/local-reply.js';
import type { CacheEntry } from './store.js';

/** Bodies up to this size that are plain ASCII are also kept as a string (see `#body`). */
export const TEXT_BODY_MAX = 16 * 1024;

/** What a 304 from the cache carries (RFC 9110 15.4.5). */
const NOT_MODIFIED_HEADERS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified']);

export class HitForm {
  /** Stored headers, Content-Length (unless the status has no body), X-Cache: HIT, Age: <slot>. */
  readonly headers: readonly string[];
  /** The 304 answer's headers, built on the first conditional hit. */
  #notModified: readonly string[] | null = null;
  readonly #entry: CacheEntry;
  /**
   * The body to write: an ASCII body as a string, which node:http joins to the response
   * head (a Buffer is written as a chunk of its own); else the Buffer.
   */
  readonly #body: string | Buffer;
  /** Age in seconds and as text, for the second it was last computed in. */
  #ageOf = -1;
  #ageText = '';

  constructor(entry: CacheEntry) {
    this.#entry = entry;
    const b = entry.body;
    this.#body = b.length <= TEXT_BODY_MAX && isAscii(b) ? b.toString('latin1') : b;
    const out: string[] = [];
    const h = entry.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i]!.toLowerCase() !== 'content-length') out.push(h[i]!, h[i + 1]!);
    // 204 has no Content-Length (RFC 9110 8.6); a HEAD answer keeps the GET's.
    if (entry.status !== 204) out.push('Content-Length', String(entry.body.length));
    out.push('X-Cache', 'HIT', 'Age', '');
    this.headers = out;
  }

  /** The answer to a request for this entry at `now` (ms); a 304 when `notModified`. */
  reply(now: number, notModified: boolean): LocalReply {
    const e = this.#entry;
    const template = notModified ? (this.#notModified ??= this.#build304()) : this.headers;
    const headers = template.slice();
    headers[headers.length - 1] = this.#age(now);
    return notModified ? LocalReply.prebuilt(304, undefined, headers) : LocalReply.prebuilt(e.status, this.#body, headers);
  }

  #age(now: number): string {
    const e = this.#entry;
    const age = e.initialAge + Math.max(0, Math.floor((now - e.storedAt) / 1000));
    if (age !== this.#ageOf) {
      this.#ageOf = age;
      this.#ageText = String(age);
    }
    return this.#ageText;
  }

  #build304(): string[] {
    const out: string[] = [];
    const h = this.#entry.headers;
    for (let i = 0; i < h.length; i += 2) if (NOT_MODIFIED_HEADERS.has(h[i]!.toLowerCase())) out.push(h[i]!, h[i + 1]!);
    out.push('X-Cache', 'HIT', 'Age', '');
    return out;
  }
}

/** The entry's hit form, built on first use (entries decoded from Redis arrive without one). */
export function hitFormOf(entry: CacheEntry): HitForm {
  return (entry.hit ??= new HitForm(entry));
}
