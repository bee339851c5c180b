// JSON body edits on the request (read in the request phase with ctx.readRequestBody, up to
// max_body) and on the response (a stream installed in responseHeaders that holds at most
// max_body). A body that is larger, not JSON, or not valid JSON goes through byte for byte.
import { Transform, type TransformCallback } from 'node:stream';
import { applyEdits, type JsonEdits } from './json-path.js';

/** application/json and any +json type, parameters ignored. */
export function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const t = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return t === 'application/json' || t.endsWith('+json');
}

/** The edited JSON text, or null when the body does not parse (it is then sent as it was). */
export function editJson(body: Buffer, edits: JsonEdits): Buffer | null {
  try {
    const doc: unknown = JSON.parse(body.toString('utf8'));
    applyEdits(doc, edits);
    return Buffer.from(JSON.stringify(doc));
  } catch {
    // Not JSON, or nested too deep to serialize again: sent as it came.
    return null;
  }
}

/** Holds the response body up to `cap` bytes and edits it at the end; past `cap` it passes everything through. */
export class JsonResponseEdit extends Transform {
  readonly #edits: JsonEdits;
  readonly #cap: number;
  #chunks: Buffer[] | null = [];
  #size = 0;

  constructor(edits: JsonEdits, cap: number) {
    super();
    this.#edits = edits;
    this.#cap = cap;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const held = this.#chunks;
    if (held === null) return cb(null, chunk);
    held.push(chunk);
    this.#size += chunk.length;
    if (this.#size > this.#cap) {
      this.#chunks = null;
      for (const c of held) this.push(c);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    const held = this.#chunks;
    if (held === null) return cb();
    const body = Buffer.concat(held);
    cb(null, editJson(body, this.#edits) ?? body);
  }
}
