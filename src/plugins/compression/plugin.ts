// `compression`: gzip / brotli of response bodies chosen by Accept-Encoding (q-values),
// streamed through node:zlib with backpressure (ctx.pipeResponseThrough). Decided once per
// response in responseHeaders from what is known then: type, length, the client's codings.
// A body of known length up to ONE_SHOT_MAX is compressed in one synchronous call at its end
// instead: a zlib stream costs ~80 µs per response (native state set up and torn down,
// threadpool round trips) against ~8 µs for gzipSync of a 100-byte body.
import { Transform, type TransformCallback } from 'node:stream';
import { brotliCompressSync, constants, createBrotliCompress, createGzip, gzipSync } from 'node:zlib';
import { addVary } from '../../sdk/header-list.js';
import type { Plugin } from '../../sdk/plugin.js';
import { COMPRESSION_DEFAULTS, compressionSchema, type CompressionConfig } from './schema.js';

type Coding = 'br' | 'gzip';

/** Known-length bodies up to this size are compressed in one call (at most ~0.2 ms of event loop at gzip level 9). */
const ONE_SHOT_MAX = 8 * 1024;

/** Collects a short body and writes it compressed at its end (one zlib call, no native stream). */
class OneShotCompressor extends Transform {
  readonly #compress: (body: Buffer) => Buffer;
  readonly #chunks: Buffer[] = [];

  constructor(compress: (body: Buffer) => Buffer) {
    super();
    this.#compress = compress;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#chunks.push(chunk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const chunks = this.#chunks;
    let out: Buffer;
    try {
      out = this.#compress(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    } catch (err) {
      return callback(err as Error);
    }
    callback(null, out);
  }
}

/**
 * The coding to use for an Accept-Encoding value: the highest q among `offered`, ties
 * broken by the order of `offered`; null when none is acceptable (absent header: none).
 */
export function chooseEncoding(accept: string | undefined, offered: readonly Coding[]): Coding | null {
  if (accept === undefined || accept === '') return null;
  const q = new Map<string, number>();
  for (const part of accept.split(',')) {
    const [token, ...params] = part.split(';');
    const name = token!.trim().toLowerCase();
    if (name === '') continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?)\s*$/i.exec(p);
      if (m) weight = Math.min(1, Number(m[1]));
    }
    // "x-gzip" is gzip (RFC 9110 8.4.1.3); the first mention of a coding wins.
    const key = name === 'x-gzip' ? 'gzip' : name;
    if (!q.has(key)) q.set(key, weight);
  }
  const star = q.get('*');
  let best: Coding | null = null;
  let bestQ = 0;
  for (const c of offered) {
    const w = q.get(c) ?? star ?? 0;
    if (w > bestQ) {
      best = c;
      bestQ = w;
    }
  }
  return best;
}

/** Matches a Content-Type against exact types, "type/*" and "+suffix" entries. */
function typeMatcher(list: readonly string[]): (contentType: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  for (const t of list) {
    if (t.startsWith('+')) suffixes.push(t);
    else if (t.endsWith('/*')) prefixes.push(t.slice(0, -1));
    else exact.add(t);
  }
  return (contentType) => {
    const semi = contentType.indexOf(';');
    const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
    // Server-sent events must reach the client event by event; a compressor would hold them.
    if (type === 'text/event-stream') return false;
    if (exact.has(type)) return true;
    for (const p of prefixes) if (type.startsWith(p)) return true;
    for (const s of suffixes) if (type.endsWith(s)) return true;
    return false;
  };
}

export const compressionPlugin: Plugin<CompressionConfig> = {
  name: 'compression',
  // Installs its stream after transform (800) so that JSON edits see the identity body.
  priority: 850,
  schema: compressionSchema,
  create(config) {
    const offered = config.encodings ?? COMPRESSION_DEFAULTS.encodings;
    const minSize = config.min_size ?? COMPRESSION_DEFAULTS.min_size;
    const eligible = typeMatcher(config.content_types ?? COMPRESSION_DEFAULTS.content_types);
    const gzipLevel = config.gzip_level ?? COMPRESSION_DEFAULTS.gzip_level;
    const brQuality = config.brotli_quality ?? COMPRESSION_DEFAULTS.brotli_quality;
    // Windows sized to the body: the whole body still fits in the window (the bytes may
    // differ from the default settings', the sizes sampled did not), and the encoder's native memory shrinks from ~256 KB (gzip) to a few KB. Allocated per
    // call, that memory is what V8 counts as external pressure: the default sizes made GC
    // the largest cost of a compressed response in a profile.
    const gzipOneShot = (body: Buffer): Buffer => {
      const windowBits = Math.min(15, Math.max(10, Math.ceil(Math.log2(body.length + 262))));
      return gzipSync(body, { level: gzipLevel, windowBits, memLevel: Math.max(1, windowBits - 7) });
    };
    const brotliOneShot = (body: Buffer): Buffer =>
      brotliCompressSync(body, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: brQuality,
          [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
          [constants.BROTLI_PARAM_LGWIN]: Math.min(24, Math.max(10, Math.ceil(Math.log2(body.length + 16)))),
        },
      });
    return {
      responseHeaders(ctx) {
        const status = ctx.responseStatus;
        if (status < 200 || status === 204 || status === 206 || status === 304) return;
        const h = ctx.responseHeaders;
        const type = h.get('content-type');
        if (type === undefined || !eligible(type)) return;
        if (h.has('content-encoding')) return;
        const cacheControl = h.get('cache-control');
        if (cacheControl !== undefined && /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(cacheControl)) return;
        const lengthText = h.get('content-length');
        const length = lengthText === undefined ? -1 : Number(lengthText);
        // Unknown length (chunked): compressed anyway, the body is already on its way.
        if (length >= 0 && length < minSize) return;
        // The answer depends on Accept-Encoding from here on, whatever this client sent.
        addVary(ctx.responseHeaders, 'Accept-Encoding');
        if (ctx.method === 'HEAD') return;
        const coding = chooseEncoding(ctx.header('accept-encoding'), offered);
        if (coding === null) return;
        h.set('Content-Encoding', coding);
        h.remove('content-length');
        // Byte ranges would refer to the encoded body, which changes with the coding.
        h.remove('accept-ranges');
        const etag = h.get('etag');
        if (etag !== undefined && etag.startsWith('"')) h.set('ETag', 'W/' + etag);
        if (length >= 0 && length <= ONE_SHOT_MAX) {
          ctx.pipeResponseThrough(new OneShotCompressor(coding === 'br' ? brotliOneShot : gzipOneShot));
          return;
        }
        ctx.pipeResponseThrough(
          coding === 'br'
            ? createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: brQuality, ...(length > 0 ? { [constants.BROTLI_PARAM_SIZE_HINT]: length } : {}) } })
            : createGzip({ level: gzipLevel }),
        );
      },
    };
  },
};
