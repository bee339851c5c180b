// `introspection`: an opaque Bearer token (RFC 6750) is valid when the authorization server
// says so (RFC 7662): the gateway POSTs `token=…` to the introspection endpoint with its own
// client credentials and reads `active`, `exp`, `scope`, `aud`, `iss` and the consumer claim.
// An endpoint that cannot answer (unreachable, slow, not 200, not an introspection answer)
// gives 503 auth-unavailable, never a pass. Answers are cached per plugin instance, keyed by
// a digest of the token (answer-cache.ts), and requests with the same uncached token share
// one call to the endpoint.
import { readFileSync } from 'node:fs';
import type { Agent } from 'undici';
import { clock } from '../../base/clock.js';
import { lazyRequire } from '../../base/lazy-require.js';
import { parseDuration } from '../../base/duration.js';
import { RemoteDocumentError, remoteFailure } from '../../base/remote-document.js';
import type { Consumer } from '../../sdk/consumer.js';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin } from '../../sdk/plugin.js';
import { ExpiringLru } from '../../base/expiring-lru.js';
import { tokenKey } from './answer-cache.js';
import { INSUFFICIENT_SCOPE, INVALID, MISSING, UNAVAILABLE, quote, removeAuthorization, singleMethodHandler, type AuthMethod, type AuthResult, type Authenticated } from './method.js';
import { introspectionSchema, type IntrospectionConfig } from './schemas.js';

// undici's index (an Agent with its request() API, ~110 modules) loads on the first introspection
// call, not with the plugin list: a config without this plugin never needs it.
const undici = lazyRequire<typeof import('undici')>('undici');

/** The most of an endpoint's answer that is read; an introspection answer is a few hundred bytes. */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** Longer tokens are refused without asking the endpoint. */
export const MAX_TOKEN_LENGTH = 4096;
/** A forwarded claim longer than this is not forwarded. */
const MAX_FORWARDED_VALUE = 1024;
const DEFAULTS = { timeout: '2s', ttl: '60s', inactiveTtl: '5s', maxEntries: 10_000 };
const WHAT = 'token introspection';

const BEARER = /^bearer +([A-Za-z0-9_.~+/=-]+) *$/i;
const BEARER_SCHEME = /^bearer(?: |$)/i;
const JSON_TYPE = /^application\/(?:[a-z0-9.+-]*\+)?json\s*(?:;|$)/i;
/** Visible ASCII and spaces: what every HTTP stack accepts in a field value, and no way to start another field. */
const SAFE_HEADER_VALUE = /^[\x20-\x7e]*$/;
const SAFE_CONSUMER = /^[^\u0000-\u001f\u007f,]+$/;
/** Names a claim must not be forwarded as: they frame or route the upstream request. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection', 'expect', 'authorization']);

/** An active token's identity, with the forward_claims headers its answer lacks (client-sent copies are removed). */
interface Active extends Authenticated {
  readonly absent: readonly string[];
}
type Outcome = Active | typeof INVALID | typeof INSUFFICIENT_SCOPE | typeof UNAVAILABLE;

interface Claims {
  readonly [claim: string]: unknown;
}

export function introspectionMethod(config: IntrospectionConfig): AuthMethod {
  const endpoint = new URL(config.endpoint);
  const origin = endpoint.origin;
  const path = endpoint.pathname + endpoint.search;
  const timeoutMs = parseDuration(config.timeout ?? DEFAULTS.timeout)!;
  const ttlMs = parseDuration(config.cache?.ttl ?? DEFAULTS.ttl)!;
  const inactiveTtlMs = parseDuration(config.cache?.inactive_ttl ?? DEFAULTS.inactiveTtl)!;
  const maxEntries = config.cache?.max_entries ?? DEFAULTS.maxEntries;
  const ca = config.ca === undefined ? undefined : readFileSync(config.ca, 'utf8');
  const issuers = listOf(config.issuer);
  const audiences = listOf(config.audience);
  const required = config.required_scopes ?? [];
  const consumerClaim = config.consumer_claim ?? 'sub';
  const forward = Object.entries(config.forward_claims ?? {}).map(([h, c]) => [h.toLowerCase(), c] as const);
  const hide = config.hide_credentials ?? true;
  const realm = quote(config.realm ?? 'northgate');

  // The client's credentials (RFC 6749 §2.3.1): form-encoded, then Basic or in the body.
  const post = config.client_auth === 'client_secret_post';
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (!post) headers['authorization'] = `Basic ${Buffer.from(`${formEncode(config.client_id)}:${formEncode(config.client_secret)}`).toString('base64')}`;
  const extra = new URLSearchParams();
  if (config.token_type_hint !== undefined) extra.set('token_type_hint', config.token_type_hint);
  if (post) {
    extra.set('client_id', config.client_id);
    extra.set('client_secret', config.client_secret);
  }
  const extraBody = extra.size === 0 ? '' : `&${extra.toString()}`;

  const active = new ExpiringLru<Active>(ttlMs === 0 ? 0 : maxEntries);
  // Refusals live apart, so that a flood of made-up tokens cannot push valid answers out.
  const refused = new ExpiringLru<typeof INVALID | typeof INSUFFICIENT_SCOPE>(inactiveTtlMs === 0 ? 0 : maxEntries);
  const inFlight = new Map<string, Promise<Outcome>>();
  // Created on the first call: a config that is loaded and replaced before any request opens nothing.
  let agent: Agent | null = null;

  const ask = async (token: string): Promise<Claims> => {
    agent ??= new (undici().Agent)({ connect: { timeout: timeoutMs, ...(ca === undefined ? {} : { ca }) }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 });
    // A timer cleared when the exchange ends (AbortSignal.timeout's is not): an abort after the
    // answer was read would error a body nobody listens to any more.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const fail = (reason: string): never => {
      throw remoteFailure(WHAT, config.endpoint, reason);
    };
    try {
      const res = await agent.request({ origin, path, method: 'POST', headers, body: `token=${formEncode(token)}${extraBody}`, signal: deadline.signal });
      res.body.on('error', () => {});
      if (res.statusCode !== 200) {
        res.body.destroy();
        return fail(`answered ${res.statusCode}`);
      }
      const type = res.headers['content-type'];
      if (typeof type !== 'string' || !JSON_TYPE.test(type)) {
        res.body.destroy();
        return fail('answered without a JSON Content-Type');
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) return fail(`answered more than ${MAX_ANSWER_BYTES} bytes`);
        chunks.push(chunk);
      }
      let doc: unknown;
      try {
        doc = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      } catch {
        return fail('answered invalid JSON');
      }
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || typeof (doc as Claims)['active'] !== 'boolean') return fail('answered JSON without a boolean "active"');
      return doc as Claims;
    } catch (err) {
      if (err instanceof RemoteDocumentError) throw err;
      // Never the error's message: it may quote what was sent.
      return fail(deadline.signal.aborted ? `no complete answer within ${timeoutMs} ms` : `cannot be reached (${causeOf(err)})`);
    } finally {
      clearTimeout(timer);
    }
  };

  const consumerOf = (ctx: PluginContext, claims: Claims): Consumer | null => {
    const v = claims[consumerClaim];
    if (typeof v !== 'string' || v === '' || v.length > 256 || !SAFE_CONSUMER.test(v)) return null;
    const index = ctx.consumers;
    return index.byId.get(v) ?? index.byUsername.get(v) ?? { id: v, username: v, groups: new Set(), groupsHeader: '', plan: null, kind: 'external' };
  };

  /** What an answer means for this route; `now` in ms. */
  const judge = (ctx: PluginContext, claims: Claims, now: number): Active | typeof INVALID | typeof INSUFFICIENT_SCOPE => {
    if (claims['active'] !== true) return INVALID;
    const { exp, nbf } = claims;
    if (exp !== undefined && (typeof exp !== 'number' || exp * 1000 <= now)) return INVALID;
    if (typeof nbf === 'number' && nbf * 1000 > now) return INVALID;
    if (issuers !== null && !(typeof claims['iss'] === 'string' && issuers.includes(claims['iss']))) return INVALID;
    if (audiences !== null && !namesOne(claims['aud'], audiences)) return INVALID;
    const consumer = consumerOf(ctx, claims);
    if (consumer === null) return INVALID;
    if (required.length > 0) {
      const granted = typeof claims['scope'] === 'string' ? claims['scope'].split(' ') : [];
      if (!required.every((s) => granted.includes(s))) return INSUFFICIENT_SCOPE;
    }
    const set: Array<[string, string]> = [];
    const absent: string[] = [];
    for (const [header, claim] of forward) {
      const text = claimText(claims[claim]);
      if (text !== null) set.push([header, text]);
      else absent.push(header);
    }
    return { consumer, credential: null, headers: set, absent };
  };

  const introspect = async (ctx: PluginContext, token: string, key: string): Promise<Outcome> => {
    let claims: Claims;
    try {
      claims = await ask(token);
    } catch {
      return UNAVAILABLE;
    }
    const now = clock.now();
    const outcome = judge(ctx, claims, now);
    if (typeof outcome === 'number') refused.set(key, outcome, now + inactiveTtlMs, now);
    else active.set(key, outcome, typeof claims['exp'] === 'number' ? Math.min(now + ttlMs, claims['exp'] * 1000) : now + ttlMs, now);
    return outcome;
  };

  const settle = (ctx: PluginContext, outcome: Outcome): AuthResult => {
    if (typeof outcome === 'number') return outcome;
    if (hide) ctx.upstreamHeaders.remove('authorization');
    for (const name of outcome.absent) ctx.upstreamHeaders.remove(name);
    return outcome;
  };

  const authenticate = (ctx: PluginContext): AuthResult | Promise<AuthResult> => {
    const header = ctx.headers.authorization;
    if (header === undefined || !BEARER_SCHEME.test(header)) return MISSING;
    const m = BEARER.exec(header);
    if (m === null || m[1]!.length > MAX_TOKEN_LENGTH) return INVALID;
    const token = m[1]!;
    const key = tokenKey(token);
    const now = clock.now();
    const hit = active.get(key, now) ?? refused.get(key, now);
    if (hit !== undefined) return settle(ctx, hit);
    let pending = inFlight.get(key);
    if (pending === undefined) {
      pending = introspect(ctx, token, key).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending.then((outcome) => settle(ctx, outcome));
  };

  const challenge = `Bearer realm=${realm}`;
  return {
    name: 'introspection',
    challenge,
    invalidChallenge: `${challenge}, error="invalid_token"`,
    insufficientChallenge: `${challenge}, error="insufficient_scope"${required.length > 0 ? `, scope=${quote(required.join(' '))}` : ''}`,
    authenticate,
    ...(hide ? { hide: (ctx: PluginContext) => removeAuthorization(ctx, BEARER_SCHEME) } : {}),
    close: () => void agent?.close().catch(() => {}),
  };
}

function listOf(v: string | string[] | undefined): readonly string[] | null {
  return v === undefined ? null : typeof v === 'string' ? [v] : v;
}

function namesOne(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud);
  return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && accepted.includes(a));
}

/** A claim as a header value, or null when it is absent or could not be sent safely. */
function claimText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const text = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return text.length <= MAX_FORWARDED_VALUE && SAFE_HEADER_VALUE.test(text) ? text : null;
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks for client credentials too. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function causeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : 'error';
}

export const introspectionPlugin: Plugin<IntrospectionConfig> = {
  name: 'introspection',
  priority: 1002,
  schema: introspectionSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    const u = URL.canParse(config.endpoint) ? new URL(config.endpoint) : null;
    if (u === null) problems.push({ path: ['endpoint'], message: 'is not a valid URL' });
    else if (u.username !== '' || u.password !== '') problems.push({ path: ['endpoint'], message: 'must not carry credentials; use client_id and client_secret' });
    if (config.timeout !== undefined && parseDuration(config.timeout)! < 100) problems.push({ path: ['timeout'], message: 'must be at least 100ms' });
    for (const header of Object.keys(config.forward_claims ?? {}))
      if (RESERVED_HEADERS.has(header.toLowerCase())) problems.push({ path: ['forward_claims', header], message: `a claim cannot be forwarded as ${header}` });
    if (config.ca !== undefined) {
      try {
        if (!readFileSync(config.ca, 'utf8').includes('-----BEGIN CERTIFICATE-----')) problems.push({ path: ['ca'], message: 'holds no PEM certificate' });
      } catch (err) {
        problems.push({ path: ['ca'], message: `cannot be read: ${(err as Error).message.split('\n')[0]}` });
      }
    }
    return problems;
  },
  create: (config) => singleMethodHandler(introspectionMethod(config)),
};
