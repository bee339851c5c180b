// A byte writer for OTLP/HTTP protobuf export bodies (opentelemetry-proto's
// ExportTraceServiceRequest), written by hand: the message set is small and fixed, so spans
// are written straight into one Buffer per batch in canonical encoding (fields in number
// order, minimal varints) without a schema runtime or an object tree per span. Constant
// parts (attribute keys with their tags, per-route and per-target attributes) are encoded
// once. Field numbers: opentelemetry-proto trace/v1/trace.proto, common/v1/common.proto.
import { MAX_LOGGED_CHARS, wireText } from './access-log-format.js';
import { ByteWriter } from './byte-writer.js';

/** Wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;

/** A field's tag byte (field numbers below 16 fit in one byte). */
export const tag = (field: number, wireType: number): number => (field << 3) | wireType;
export const lenTag = (field: number): number => tag(field, LEN);
export const varintTag = (field: number): number => tag(field, VARINT);
export const fixed64Tag = (field: number): number => tag(field, I64);

/** Bytes of a varint of 0 <= v < 2^53. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Reserved bytes for a span's length before its bytes are written (fixed up after: see close). */
const RESERVED_LEN = 2;

export class ProtoBytes extends ByteWriter {
  /** A view of buf for the fixed-width writes (ids, times): one store per word. */
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);

  protected override replaced(): void {
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** A varint of 0 <= v < 2^53 (room must be made by the caller: at most 8 bytes). */
  varint(v: number): void {
    const buf = this.buf;
    let p = this.pos;
    if (v < 0x8000_0000) {
      let x = v | 0;
      while (x >= 128) {
        buf[p++] = (x & 127) | 128;
        x >>>= 7;
      }
      buf[p++] = x;
    } else {
      while (v >= 128) {
        buf[p++] = (v % 128) | 128;
        v = Math.floor(v / 128);
      }
      buf[p++] = v;
    }
    this.pos = p;
  }

  /** A string field of ASCII text (tokens, addresses, digits). */
  asciiField(tagByte: number, s: string): void {
    const n = s.length;
    this.room(n + 6);
    this.buf[this.pos++] = tagByte;
    this.varint(n);
    this.ascii(s);
  }

  /** ASCII chars (room made by the caller). */
  ascii(s: string): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0, n = s.length; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Unicode text as UTF-8 (lone surrogates become U+FFFD); `bytes` is its UTF-8 length. */
  utf8(s: string, bytes: number): void {
    this.room(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  /**
   * A fixed64 of Unix nanoseconds from microseconds (an integer below 2^53), exact without
   * BigInt: µs = high·2^32 + low, so ns = 1000·low + 1000·high·2^32, where 1000·low < 2^42
   * is exact in a double and splits into its own low 32 bits and a carry.
   */
  fixed64Micros(tagByte: number, us: number): void {
    this.room(9);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = tagByte;
    const high = Math.floor(us / 0x1_0000_0000);
    const lowNs = (us - high * 0x1_0000_0000) * 1000;
    const carry = Math.floor(lowNs / 0x1_0000_0000);
    const lo = lowNs - carry * 0x1_0000_0000;
    const hi = high * 1000 + carry;
    this.view.setUint32(p, lo, true);
    this.view.setUint32(p + 4, hi, true);
    this.pos = p + 8;
  }

  /** The head of an attribute (KeyValue, `key` pre-encoded by kvKey) whose AnyValue holds one field of `valueBytes` bytes after the tag byte `valueTag`: that field's bytes follow. */
  #attrHead(key: Buffer, valueTag: number, valueBytes: number): void {
    const any = 1 + valueBytes;
    const kv = key.length + 1 + varintSize(any) + any;
    // Three tag bytes, the key, and three varints of at most 8 bytes (the value's own length included).
    this.room(key.length + 27);
    const buf = this.buf;
    buf[this.pos++] = SPAN_ATTRIBUTES_TAG;
    this.varint(kv);
    buf.set(key, this.pos);
    this.pos += key.length;
    buf[this.pos++] = ANY_VALUE_TAG;
    this.varint(any);
    buf[this.pos++] = valueTag;
  }

  /** The head of an attribute with a string value of `bytes` UTF-8 bytes: the value's bytes follow. */
  #stringAttr(key: Buffer, bytes: number): void {
    this.#attrHead(key, STRING_VALUE_TAG, varintSize(bytes) + bytes);
    this.varint(bytes);
  }

  // Attribute writers: one KeyValue of Span.attributes, `key` pre-encoded by kvKey.

  /** An attribute with an ASCII string value. */
  asciiAttr(key: Buffer, s: string): void {
    const n = s.length;
    const kv = key.length + 4 + n;
    if (kv >= 128) {
      this.#stringAttr(key, n);
      this.room(n);
      this.ascii(s);
      return;
    }
    // Every length fits in one byte (the common case: short keys and values).
    let p = this.#shortStringHead(key, kv, n);
    const buf = this.buf;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /**
   * Makes room for and writes the head of an attribute whose string value of `n` bytes follows,
   * when every length fits in one byte (`kv`, the KeyValue's length, below 128); returns where
   * the value's bytes go (this.pos is not moved).
   */
  #shortStringHead(key: Buffer, kv: number, n: number): number {
    this.room(kv + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = SPAN_ATTRIBUTES_TAG;
    buf[p++] = kv;
    for (let i = 0; i < key.length; i++) buf[p++] = key[i]!;
    buf[p++] = ANY_VALUE_TAG;
    buf[p++] = n + 2;
    buf[p++] = STRING_VALUE_TAG;
    buf[p++] = n;
    return p;
  }

  /** An attribute with a Unicode string value (from the config or the core). */
  textAttr(key: Buffer, s: string): void {
    const bytes = Buffer.byteLength(s, 'utf8');
    this.#stringAttr(key, bytes);
    this.utf8(s, bytes);
  }

  /** An attribute with text from the wire (see wireValue). */
  wireAttr(key: Buffer, s: string): void {
    if (this.#plainAttr(key, null, s)) return;
    if (isPlainWire(s)) this.asciiAttr(key, s);
    else this.textAttr(key, wireValue(s));
  }

  /** An attribute whose value is ASCII `prefix` followed by text from the wire (url.full: a target's origin and a path). */
  prefixedWireAttr(key: Buffer, prefix: Buffer, s: string): void {
    if (!this.#plainAttr(key, prefix, s)) this.wireAttr(key, prefix.toString('latin1') + s);
  }

  /**
   * Writes an attribute of (`prefix` +) `s` in one pass when `s` is ASCII (as wire text is,
   * nearly always) and the lengths fit in one byte each; returns false, having written
   * nothing, otherwise.
   */
  #plainAttr(key: Buffer, prefix: Buffer | null, s: string): boolean {
    const pre = prefix === null ? 0 : prefix.length;
    const n = pre + s.length;
    const kv = key.length + 4 + n;
    if (kv >= 128) return false;
    let p = this.#shortStringHead(key, kv, n);
    const buf = this.buf;
    for (let i = 0; i < pre; i++) buf[p++] = prefix![i]!;
    for (let i = 0, m = s.length; i < m; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[p++] = c;
    }
    this.pos = p;
    return true;
  }

  /** A string field of text from the wire (see wireValue). */
  wireField(tagByte: number, s: string): void {
    if (isPlainWire(s)) {
      this.asciiField(tagByte, s);
      return;
    }
    const text = wireValue(s);
    const bytes = Buffer.byteLength(text, 'utf8');
    this.room(6);
    this.buf[this.pos++] = tagByte;
    this.varint(bytes);
    this.utf8(text, bytes);
  }

  /** An attribute with an integer value (0 <= v < 2^53). */
  intAttr(key: Buffer, v: number): void {
    this.#attrHead(key, INT_VALUE_TAG, varintSize(v));
    this.varint(v);
  }

  /**
   * Starts a length-delimited field whose length is known only once written (a span): its
   * tag and RESERVED_LEN bytes for the length; returns where the length goes (for close).
   */
  open(tagByte: number): number {
    this.room(1 + RESERVED_LEN);
    this.buf[this.pos++] = tagByte;
    const at = this.pos;
    this.pos += RESERVED_LEN;
    return at;
  }

  /** Writes the length of the field opened at `at` as a minimal varint (moving its bytes when that is not RESERVED_LEN bytes long: spans of under 128 or over 16383 bytes). */
  close(at: number): void {
    const start = at + RESERVED_LEN;
    const len = this.pos - start;
    const size = varintSize(len);
    if (size !== RESERVED_LEN) {
      this.room(size - RESERVED_LEN);
      this.buf.copyWithin(at + size, start, this.pos);
      this.pos += size - RESERVED_LEN;
    }
    const end = this.pos;
    this.pos = at;
    this.varint(len);
    this.pos = end;
  }
}

/** Whether text from the wire goes as it is: ASCII, not longer than the log's cut. */
function isPlainWire(s: string): boolean {
  const n = s.length;
  if (n > MAX_LOGGED_CHARS) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * Text from the wire (node:http reads bytes as latin1) as the access log has it: bytes
 * above 0x7f read back as UTF-8 (invalid sequences as U+FFFD), cut at MAX_LOGGED_CHARS plus
 * an ellipsis. The log's own JSON text read back, so spans and log lines agree.
 */
export function wireValue(s: string): string {
  return JSON.parse(wireText(s)) as string;
}

// Tags of the messages spans are written in.
export const SPAN_ATTRIBUTES_TAG = lenTag(9); // Span.attributes (repeated KeyValue)
export const ANY_VALUE_TAG = lenTag(2); // KeyValue.value
export const STRING_VALUE_TAG = lenTag(1); // AnyValue.string_value
export const INT_VALUE_TAG = varintTag(3); // AnyValue.int_value

/** A length-delimited field of constant bytes. */
export function lenField(field: number, bytes: Buffer): Buffer {
  const head = Buffer.alloc(1 + varintSize(bytes.length));
  const w = new ProtoBytes(16);
  w.buf[w.pos++] = lenTag(field);
  w.varint(bytes.length);
  w.buf.copy(head, 0, 0, w.pos);
  return Buffer.concat([head, bytes]);
}

/** A string field of constant text. */
export const stringField = (field: number, text: string): Buffer => lenField(field, Buffer.from(text, 'utf8'));

/** A KeyValue's key field, pre-encoded for ProtoBytes' attribute writers. */
export const kvKey = (key: string): Buffer => stringField(1, key);

/** A whole constant KeyValue with a string value, as a field `attributesField`. */
export const kvString = (attributesField: number, key: string, value: string): Buffer =>
  lenField(attributesField, Buffer.concat([stringField(1, key), lenField(2, stringField(1, value))]));

/** A whole constant KeyValue with an int value (0 <= v < 2^53). */
export function kvInt(attributesField: number, key: string, v: number): Buffer {
  const w = new ProtoBytes(16);
  w.buf[w.pos++] = INT_VALUE_TAG;
  w.varint(v);
  return lenField(attributesField, Buffer.concat([stringField(1, key), lenField(2, Buffer.from(w.buf.subarray(0, w.pos)))]));
}
