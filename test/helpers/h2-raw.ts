// A raw HTTP/2 client over a TCP socket (h2c, prior knowledge), for requests node's own
// http2 client refuses to send: header names with upper-case letters, spaces or colons,
// values with CR, LF or NUL. Header blocks are hand-encoded HPACK "literal without indexing,
// new name" fields with raw (non-Huffman) strings (RFC 7541 §6.2.2), which need no table.
import { connect, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** An HPACK integer with an n-bit prefix (RFC 7541 §5.1), first byte OR-ed with `first`. */
function hpackInt(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(bytes.length, 7, 0), bytes]);
}

/** A header block of literal-without-indexing fields, in order, names and values byte for byte. */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]));
}

export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export interface RawH2Session {
  /** Sends a request on a new stream id; `body` (if any) follows as one DATA frame ending the stream. Returns the stream id. */
  request(fields: Array<[string, string]>, body?: string): number;
  /** Resolves with the frames received on `stream` once it ends (END_STREAM or RST_STREAM), the session ends (GOAWAY, close), or `capMs` passes. */
  outcome(stream: number, capMs?: number): Promise<Frame[]>;
  close(): void;
}

/** Opens an h2c connection with prior knowledge and exchanges SETTINGS. */
export function rawH2(port: number): Promise<RawH2Session> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const frames: Frame[] = [];
    const waiters = new Set<() => void>();
    let buffered = Buffer.alloc(0);
    let nextStream = 1;
    let ended = false;
    const notify = () => {
      for (const w of [...waiters]) w();
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const f: Frame = { type: buffered[3]!, flags: buffered[4]!, stream: buffered.readUInt32BE(5) & 0x7fffffff, payload: buffered.subarray(9, 9 + length) };
        buffered = buffered.subarray(9 + length);
        // Acknowledge the server's SETTINGS and answer PINGs, as a client must.
        if (f.type === FRAME.SETTINGS && (f.flags & 1) === 0) socket.write(frame(FRAME.SETTINGS, 1, 0, Buffer.alloc(0)));
        frames.push(f);
      }
      notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      ended = true;
      notify();
    });
    socket.once('connect', () => {
      socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0))]));
      resolve({
        request(fields, body) {
          const id = nextStream;
          nextStream += 2;
          socket.write(frame(FRAME.HEADERS, END_HEADERS | (body === undefined ? END_STREAM : 0), id, headerBlock(fields)));
          if (body !== undefined) socket.write(frame(FRAME.DATA, END_STREAM, id, Buffer.from(body, 'latin1')));
          return id;
        },
        outcome(stream, capMs = 3000) {
          return new Promise((done) => {
            const check = () => {
              const mine = frames.filter((f) => f.stream === stream);
              const over = mine.some((f) => f.type === FRAME.RST_STREAM || (f.flags & END_STREAM) !== 0) || frames.some((f) => f.type === FRAME.GOAWAY) || ended;
              if (!over) return;
              waiters.delete(check);
              clearTimeout(timer);
              done(mine);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              done(frames.filter((f) => f.stream === stream));
            }, capMs);
            waiters.add(check);
            check();
          });
        },
        close: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}

/** The RST_STREAM error code among `frames`, or null. */
export function resetCode(frames: Frame[]): number | null {
  const rst = frames.find((f) => f.type === FRAME.RST_STREAM);
  return rst === undefined ? null : rst.payload.readUInt32BE(0);
}

/**
 * The :status of the first HEADERS frame, when the server encoded it as an indexed static-table
 * field (nghttp2 does for 200, 204, 206, 304, 400, 404, 500); null otherwise.
 */
export function indexedStatus(frames: Frame[]): number | null {
  const h = frames.find((f) => f.type === FRAME.HEADERS);
  if (h === undefined) return null;
  const STATIC: Record<number, number> = { 0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500 };
  return STATIC[h.payload[0]!] ?? null;
}
