// The growable byte buffer both OTLP export writers (otlp-json.ts, otlp-proto.ts) write a
// batch into: reused across batches, doubled when a write needs more room.

export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** The bytes written so far (a view, valid until the next write). */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.replaced();
  }

  /** Called when `buf` was replaced by a larger one. */
  protected replaced(): void {}

  /** Pre-encoded constant bytes (short ones copied byte by byte: cheaper than a call into TypedArray#set). */
  fragment(f: Buffer): void {
    const n = f.length;
    this.room(n);
    if (n <= 24) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = f[i]!;
      this.pos = p;
      return;
    }
    this.buf.set(f, this.pos);
    this.pos += n;
  }
}
