// Documents the gateway fetches by URL (a JWKS, an OpenID discovery document, the portal's
// OpenID provider): every fetch is bounded in time (connect, head and body together) and in
// size (bytes after decompression, counted as they arrive, so a huge or endless answer costs
// at most the limit), redirects are refused, and a document must be a 200 answer of valid
// JSON that says it is JSON. A failure is an error saying why, and an event on
// `remoteFetchFailedChannel` that the process log writes.
import { remoteFetchFailedChannel } from './events.js';

export const DEFAULT_MAX_DOCUMENT_BYTES = 1024 * 1024;

export interface FetchLimits {
  /** What is fetched, for messages and the log: "JWKS", "OpenID discovery document", … */
  readonly what: string;
  /** Connect, head and body together. */
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /**
   * A document: the answer must be 200 with a JSON Content-Type (application/json or
   * application/*+json) and a body that parses, and pass `check` (which returns why not).
   */
  readonly document?: boolean;
  readonly check?: (doc: unknown) => string | null;
}

export interface RemoteFetchFailure {
  readonly what: string;
  /** The URL without its query and credentials (they may hold secrets). */
  readonly url: string;
  readonly reason: string;
}


export class RemoteDocumentError extends Error {
  override name = 'RemoteDocumentError';
}

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]*\+)?json\s*(?:;|$)/i;

/**
 * A `fetch` with the limits: resolves with the whole answer in memory (at most maxBytes) or
 * rejects with a RemoteDocumentError. Without `document`, only a 3xx is refused by status;
 * other statuses are the caller's to judge. `init.signal` (a caller's own deadline) still applies.
 */
export async function fetchBounded(url: string | URL, init: RequestInit, limits: FetchLimits): Promise<Response> {
  const { res, bytes } = await fetchWhole(url, init, limits);
  const headers = new Headers(res.headers);
  // The body is handed over decoded and whole.
  headers.delete('content-encoding');
  headers.delete('content-length');
  const status = res.status;
  return new Response(status === 204 || status === 205 || status === 304 ? null : bytes, { status, statusText: res.statusText, headers });
}

/** A JSON document (see FetchLimits.document), parsed. */
export async function fetchDocument(url: string | URL, limits: FetchLimits): Promise<unknown> {
  return (await fetchWhole(url, { headers: { accept: 'application/json' } }, { ...limits, document: true })).doc;
}

/** Reports a remote document that was fetched but cannot be used, as fetchBounded reports its own failures. */
export function remoteFailure(what: string, url: string | URL, reason: string): RemoteDocumentError {
  const shown = safeUrl(url);
  if (remoteFetchFailedChannel.hasSubscribers) remoteFetchFailedChannel.publish({ what, url: shown, reason } satisfies RemoteFetchFailure);
  return new RemoteDocumentError(`${what} at ${shown}: ${reason}`);
}

async function fetchWhole(url: string | URL, init: RequestInit, limits: FetchLimits): Promise<{ res: Response; bytes: Buffer; doc: unknown }> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  const fail = (reason: string): never => {
    throw remoteFailure(limits.what, url, reason);
  };
  const why = (err: unknown): string =>
    timeout.aborted ? `no complete answer within ${limits.timeoutMs} ms` : signal.aborted ? 'given up by the caller' : `cannot be fetched (${causeOf(err)})`;

  if (!URL.canParse(String(url))) return fail('is not a valid URL');
  const u = new URL(url);
  if (u.username !== '' || u.password !== '') return fail('credentials in the URL are not supported');
  let res: Response;
  try {
    res = await fetch(u, { ...init, signal, redirect: 'manual' });
  } catch (err) {
    return fail(why(err));
  }
  const body = res.body;
  if (res.status >= 300 && res.status < 400) {
    await body?.cancel().catch(() => {});
    return fail(`answered ${res.status} (redirects are not followed; configure the final URL)`);
  }
  if (limits.document && res.status !== 200) {
    await body?.cancel().catch(() => {});
    return fail(`answered ${res.status}`);
  }
  if (limits.document) {
    const type = res.headers.get('content-type') ?? '';
    if (!JSON_TYPE.test(type)) {
      await body?.cancel().catch(() => {});
      return fail(`is not JSON (Content-Type ${JSON.stringify(type.slice(0, 100))})`);
    }
  }
  const declared = Number(res.headers.get('content-length') ?? -1);
  if (declared > limits.maxBytes && res.headers.get('content-encoding') === null) {
    await body?.cancel().catch(() => {});
    return fail(`is larger than ${limits.maxBytes} bytes (Content-Length ${declared})`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (body !== null) {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limits.maxBytes) {
          await reader.cancel().catch(() => {});
          return fail(`is larger than ${limits.maxBytes} bytes`);
        }
        chunks.push(value);
      }
    } catch (err) {
      if (err instanceof RemoteDocumentError) throw err;
      return fail(why(err));
    }
  }
  const bytes = Buffer.concat(chunks, size);
  let doc: unknown;
  if (limits.document) {
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch {
      return fail('is not valid JSON');
    }
    const problem = limits.check?.(doc) ?? null;
    if (problem !== null) return fail(problem);
  }
  return { res, bytes, doc };
}

/** A fetch function with the limits, for libraries that take one (jose, openid-client). */
export function boundedFetch(limits: FetchLimits): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return (url, init) => fetchBounded(url, init ?? {}, limits);
}

/** Origin and path: a query or userinfo in a configured URL may be a secret. */
function safeUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return '(invalid URL)';
  }
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  // Not the message: fetch's own errors quote the URL, credentials included.
  return err instanceof Error ? err.name : 'error';
}
