// undici 7's HTTP/1.1 parser (lib/dispatcher/client-h1.js) reads any `100 Continue` as a
// broken upstream: it never sends `Expect`, so it destroys the connection ("bad response")
// and the client would get a 502 for an answer that was on its way. RFC 9110 §15.2: a
// client must parse 1xx responses it did not ask for, and may ignore them. This teaches
// undici's parser to skip a 100 exactly as it skips a 102 (no body, the final response
// follows on the same connection) — without telling the handler, which has nothing to do
// with an unsolicited 100.
//
// The parser class is not exported: its prototype is reached through the first HTTP/1.1
// connection's parser (undici publishes `undici:client:connected` after building it and
// before writing a request), patched once, and the subscription dropped. A later undici
// whose parser has another shape is left alone (the e2e test of the 100 then fails).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';

interface ParserLike {
  statusCode: number;
  headers: unknown[];
  headersSize: number;
  client: Record<symbol, number>;
  onHeadersComplete(statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number;
}

const undiciSymbols = createRequire(import.meta.url)('undici/lib/core/symbols.js') as { kParser: symbol; kRunning: symbol };
const { kParser, kRunning } = undiciSymbols;
const CONNECTED = 'undici:client:connected';
/** llhttp: the message has no body (undici answers this for every 1xx it lets through). */
const SKIP_BODY = 1;

function onConnected(message: unknown): void {
  const parser = (message as { socket?: Record<symbol, unknown> }).socket?.[kParser] as ParserLike | undefined;
  // An h2 (ALPN) connection has no HTTP/1.1 parser: wait for the next one.
  if (parser === undefined || parser === null) return;
  unsubscribe(CONNECTED, onConnected);
  const proto = Object.getPrototypeOf(parser) as ParserLike;
  const original = proto.onHeadersComplete;
  if (typeof original !== 'function' || !('statusCode' in parser) || !('headersSize' in parser)) return;
  proto.onHeadersComplete = function skipContinue(this: ParserLike, statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number {
    // Anything else, and a 100 with no request waiting for an answer, keeps undici's handling.
    if (statusCode !== 100 || !(this.client?.[kRunning]! > 0)) return original.call(this, statusCode, upgrade, shouldKeepAlive);
    // What undici does for a 102 before it calls the handler (the head is read, the next
    // head is the answer's) — but the headers timeout keeps running: 100s dripped by an
    // upstream must not hold a request past timeouts.read.
    this.statusCode = statusCode;
    this.headers = [];
    this.headersSize = 0;
    return SKIP_BODY;
  };
}

subscribe(CONNECTED, onConnected);
