// A byte writer for OTLP/JSON export bodies: spans are written straight into one Buffer per
// batch (ASCII copied char by char, constant fragments pre-encoded), so a batch is neither a
// tree of concatenated strings to flatten nor a string to encode to UTF-8 again at send time.
import { MAX_LOGGED_CHARS, wireText } from './access-log-format.js';
import { ByteWriter } from './byte-writer.js';

/** Pre-encoded constant JSON text. */
export const frag = (text: string): Buffer => Buffer.from(text, 'utf8');

const QUOTE = 34;
const BACKSLASH = 92;
const HEX_DIGITS = '0123456789abcdef';

export class JsonBytes extends ByteWriter {
  /** Text known to need no escaping (hex ids, tokens, digits). */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** A non-negative integer below 2^53, in decimal (as two 8-digit halves of small-integer math). */
  uint(v: number): void {
    this.room(16);
    if (v < 1e8) {
      this.#digits(v);
      return;
    }
    const high = Math.floor(v / 1e8);
    this.#digits(high);
    const buf = this.buf;
    let low = v - high * 1e8;
    for (let p = this.pos + 7; p >= this.pos; p--) {
      const q = (low / 10) | 0;
      buf[p] = 48 + low - q * 10;
      low = q;
    }
    this.pos += 8;
  }

  /** Digits of 0 <= v < 2^31. */
  #digits(v: number): void {
    const buf = this.buf;
    let n = 1;
    for (let x = v; x >= 10; x = (x / 10) | 0) n++;
    let p = this.pos + n;
    this.pos = p;
    let x = v | 0;
    do {
      const q = (x / 10) | 0;
      buf[--p] = 48 + x - q * 10;
      x = q;
    } while (x > 0);
  }

  /** A JSON string (quoted) of Unicode text: escaped where JSON requires, UTF-8 encoded. */
  text(s: string): void {
    this.room(s.length * 3 + 2);
    this.buf[this.pos++] = QUOTE;
    this.chars(s);
    this.buf[this.pos++] = QUOTE;
  }

  /** The chars of a JSON string without the quotes (room for 3 bytes per char must be made by the caller). */
  chars(s: string): void {
    let buf = this.buf;
    let p = this.pos;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x7f && c !== QUOTE && c !== BACKSLASH) {
        buf[p++] = c;
      } else if (c < 0x80) {
        // Control characters as \u00XX (6 bytes for one char: ensure room for the rest).
        this.pos = p;
        this.room(6 + (n - i) * 3);
        buf = this.buf;
        p = this.#escape(c, p);
      } else {
        this.pos = p;
        p = this.#utf8(s, i, p);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
      }
    }
    this.pos = p;
  }

  #escape(c: number, p: number): number {
    const buf = this.buf;
    buf[p++] = BACKSLASH;
    if (c === QUOTE || c === BACKSLASH) buf[p++] = c;
    else if (c === 10) buf[p++] = 110; // \n
    else if (c === 13) buf[p++] = 114; // \r
    else if (c === 9) buf[p++] = 116; // \t
    else {
      buf[p++] = 117; // \u00XX
      buf[p++] = 48;
      buf[p++] = 48;
      buf[p++] = HEX_DIGITS.charCodeAt(c >> 4);
      buf[p++] = HEX_DIGITS.charCodeAt(c & 15);
    }
    return p;
  }

  /** UTF-8 bytes of the char at i (a surrogate pair as one code point, a lone surrogate as U+FFFD). */
  #utf8(s: string, i: number, p: number): number {
    const buf = this.buf;
    let c = s.charCodeAt(i);
    if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 63);
      return p;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && (next & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        buf[p++] = 0xf0 | (c >> 18);
        buf[p++] = 0x80 | ((c >> 12) & 63);
        buf[p++] = 0x80 | ((c >> 6) & 63);
        buf[p++] = 0x80 | (c & 63);
        return p;
      }
      c = 0xfffd;
    }
    buf[p++] = 0xe0 | (c >> 12);
    buf[p++] = 0x80 | ((c >> 6) & 63);
    buf[p++] = 0x80 | (c & 63);
    return p;
  }

  /**
   * A JSON string of text from the wire (path, host, headers: node:http reads bytes as
   * latin1): plain ASCII is copied; anything else goes through the access log's escaping
   * (bytes read back as UTF-8, cut at MAX_LOGGED_CHARS), so spans and log lines agree.
   */
  wire(s: string): void {
    const n = s.length;
    if (n <= MAX_LOGGED_CHARS) {
      let plain = true;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x20 || c >= 0x7f || c === QUOTE || c === BACKSLASH) {
          plain = false;
          break;
        }
      }
      if (plain) {
        this.room(n + 2);
        const buf = this.buf;
        let p = this.pos;
        buf[p++] = QUOTE;
        for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
        buf[p++] = QUOTE;
        this.pos = p;
        return;
      }
    }
    const json = wireText(s);
    this.room(json.length * 3);
    this.pos += this.buf.write(json, this.pos, 'utf8');
  }
}
