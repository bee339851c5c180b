// The differential check: the same bytes go to a reference parser (a bare node:http server
// that records what it read) and through a proxy's listener to a recording upstream; the
// proxy may refuse or answer a request itself, but every request it forwards must be one the
// reference read — same method, target, end-to-end headers, body — in the order it read them.
// Knows nothing of the gateway's internals: only ports and recording servers.
import { converse, type Received, type RecordingServer } from './recording-upstream.js';
import { CASE_HEADER, type Case } from './request-mutations.js';
import { TEST_ENGINE } from './servers.js';

/**
 * Fields a proxy legitimately changes, left out of the header comparison: connection-specific
 * ones (RFC 9110 7.6.1, plus those the Connection header names), framing (the body is
 * compared instead: a chunked body may be forwarded with a Content-Length), Host (compared on
 * its own, case-insensitively), Expect (answered by the proxy), and the forwarding headers
 * the gateway owns.
 */
const NOT_COMPARED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'content-length',
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'forwarded',
  'x-real-ip',
  'x-request-id',
]);

export function caseOf(r: Received): number | null {
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === CASE_HEADER) return Number(r.rawHeaders[i + 1]);
  return null;
}

function header(r: Received, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === name) out.push(r.rawHeaders[i + 1]!);
  return out;
}

function endToEnd(r: Received): string[] {
  const listed = new Set(
    header(r, 'connection')
      .flatMap((v) => v.split(','))
      .map((t) => t.trim().toLowerCase()),
  );
  const out: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase();
    if (NOT_COMPARED.has(name) || listed.has(name)) continue;
    out.push(`${name}: ${r.rawHeaders[i + 1]!}`);
  }
  return out;
}

/**
 * The target in origin-form, up to the equivalences a proxy may apply to a path (RFC 3986
 * 6.2.2: escapes of unreserved characters decoded, other escapes upper-cased) and merged
 * repeated slashes (the gateway's documented path normalization). The query is compared as is.
 */
export function canonicalTarget(url: string): string {
  let target = url;
  const m = /^https?:\/\/[^/?#]*(.*)$/i.exec(target);
  if (m !== null) target = m[1] === '' ? '/' : m[1]!;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  const canonical = path
    .replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
      const c = String.fromCharCode(Number.parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${hex.toUpperCase()}`;
    })
    .replace(/\/{2,}/g, '/');
  return canonical + query;
}

/** Why the forwarded request is not the one the reference read (null: it is). */
export function difference(ref: Received, fwd: Received): string | null {
  if (ref.method !== fwd.method) return `method ${JSON.stringify(fwd.method)} instead of ${JSON.stringify(ref.method)}`;
  if (canonicalTarget(ref.url) !== canonicalTarget(fwd.url)) return `target ${JSON.stringify(fwd.url)} instead of ${JSON.stringify(ref.url)}`;
  const refHost = (header(ref, 'host')[0] ?? '').toLowerCase();
  const fwdHost = (header(fwd, 'host')[0] ?? '').toLowerCase();
  // An absolute-form target names the host itself (RFC 9112 3.2.2).
  const authority = /^https?:\/\/([^/?#]*)/i.exec(ref.url)?.[1]?.toLowerCase();
  // Without a Host (HTTP/1.0) the proxy must name one: any will do.
  if (refHost !== '' && fwdHost !== refHost && fwdHost !== authority) return `host ${JSON.stringify(fwdHost)} instead of ${JSON.stringify(refHost)}`;
  const a = endToEnd(ref).join('\n');
  const b = endToEnd(fwd).join('\n');
  if (a !== b) return `headers\n${b}\ninstead of\n${a}`;
  if (!ref.body.equals(fwd.body)) return `body ${JSON.stringify(fwd.body.toString('latin1'))} instead of ${JSON.stringify(ref.body.toString('latin1'))}`;
  // Trailers pass as they were (names in any case, as header names) — on engine: native always;
  // engine: node drops them as a whole (undici cannot send them).
  const trailers = (r: Received) => r.rawTrailers.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v)).join('\n');
  if ((TEST_ENGINE === 'native' || fwd.rawTrailers.length > 0) && trailers(fwd) !== trailers(ref)) return `trailers ${JSON.stringify(fwd.rawTrailers)} instead of ${JSON.stringify(ref.rawTrailers)}`;
  if (fwd.upgrade) {
    // Forwarded as an upgrade: only a WebSocket handshake may be (GET, HTTP/1.1, no body).
    const asked = header(ref, 'upgrade').join(',').trim().toLowerCase();
    if (ref.method !== 'GET' || ref.httpVersion !== '1.1' || ref.body.length > 0 || asked !== 'websocket') return `forwarded as an upgrade (${asked}) though it is not a WebSocket handshake`;
  }
  return null;
}

/**
 * Problems with one case: each forwarded request must match a request the reference read,
 * later than the one the previous forwarded request matched (same order; the proxy may skip
 * requests it answered itself).
 */
export function compareCase(reference: Received[], forwarded: Received[]): string[] {
  const problems: string[] = [];
  let next = 0;
  for (const fwd of forwarded) {
    let k = next;
    let first: string | null = null;
    for (; k < reference.length; k++) {
      const why = difference(reference[k]!, fwd);
      if (why === null) break;
      first ??= why;
    }
    if (k === reference.length) {
      const what = `${fwd.method} ${fwd.url}${fwd.upgrade ? ' (upgrade)' : ''}`;
      problems.push(reference.length === 0 ? `forwarded ${what}, but the parser read no request` : next >= reference.length ? `forwarded ${what} out of order (after its successors)` : `forwarded ${what}: ${first}`);
    } else {
      next = k + 1;
    }
  }
  return problems;
}

export interface DifferentialRun {
  /** Cases actually run (the time budget may stop before the last). */
  ran: number;
  /** Requests the reference read and the subject forwarded, over all cases run. */
  read: number;
  forwarded: number;
  failures: string[];
}

/**
 * Sends every case to the reference and to the subject (each on a new connection, one case at
 * a time), then compares what each case's requests became. `upstream` records what the
 * subject forwarded; requests are told apart by their x-case header. Stops starting new cases
 * once `budgetMs` has passed.
 */
export async function runDifferential(cases: Case[], reference: { port: number; server: RecordingServer }, subject: { port: number; upstream: RecordingServer }, budgetMs: number, capMs = 1500): Promise<DifferentialRun> {
  const started = Date.now();
  let ran = 0;
  for (const c of cases) {
    if (Date.now() - started > budgetMs) break;
    const marker = `GET ${c.sentinel}\n`;
    const done = (t: string) => t.includes(marker);
    await converse(reference.port, c.bytes, done, capMs);
    await converse(subject.port, c.bytes, done, capMs);
    ran++;
  }
  // Let requests of connections closed early reach the upstream: one more request through the
  // subject, answered after everything sent before it on the same upstream pool (bounded).
  await converse(subject.port, `GET /__settle HTTP/1.1\r\nHost: sentinel.test\r\n${CASE_HEADER}: -1\r\n\r\n`, (t) => t.includes('GET /__settle\n'), capMs);
  const byCase = (rs: Received[]) => {
    const m = new Map<number, Received[]>();
    for (const r of rs) {
      const id = caseOf(r);
      if (id === null || Number.isNaN(id)) continue;
      let list = m.get(id);
      if (list === undefined) m.set(id, (list = []));
      list.push(r);
    }
    return m;
  };
  const refs = byCase(reference.server.received);
  const fwds = byCase(subject.upstream.received);
  const failures: string[] = [];
  let read = 0;
  let forwarded = 0;
  for (const c of cases.slice(0, ran)) {
    const r = refs.get(c.id) ?? [];
    const f = fwds.get(c.id) ?? [];
    read += r.length;
    forwarded += f.length;
    for (const p of compareCase(r, f)) failures.push(`case ${c.id} ${JSON.stringify(c.labels)}\n  bytes: ${JSON.stringify(c.bytes.toString('latin1'))}\n  ${p}`);
  }
  const stray = subject.upstream.received.filter((r) => caseOf(r) === null);
  for (const r of stray) failures.push(`forwarded a request without its ${CASE_HEADER} header: ${r.method} ${r.url} ${JSON.stringify(r.rawHeaders)}`);
  return { ran, read, forwarded, failures };
}
