// The access line's fields, and the serializer compiled from a configured field list: one
// function per config, generated as a single string concatenation (like fast-json-stringify),
// so a request pays for the fields it logs and never loops over a generic field list.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RequestContext } from '../proxy/context.js';
import { didYouMean, type ConfigProblem } from '../base/problems.js';
import { paramName } from '../base/query-params.js';
import { parseTraceparent } from './trace-context.js';

/** Serializes one request; `time` is the ISO time of the line, `pid` the writing process. */
export type AccessLineFn = (ctx: RequestContext, time: string, pid: number) => string;

/**
 * name → JavaScript expression producing the field's JSON text. The expressions run inside
 * the generated function with `ctx` and the helpers of `HELPERS` in scope.
 */
const FIELDS: Record<string, string> = {
  time: `'"' + time + '"'`,
  pid: `pid`,
  request_id: `w(ctx.id)`,
  trace_id: `s(traceIdOf(ctx))`,
  client_ip: `s(ctx.clientIp)`,
  peer_ip: `s(ctx.peerAddress)`,
  scheme: `'"' + ctx.listener.protocol + '"'`,
  http_version: `s(ctx.req.httpVersion)`,
  method: `w(ctx.method)`,
  host: `w(ctx.host)`,
  path: `w(ctx.path)`,
  query: `(ctx.query === '' ? 'null' : w(ctx.query.slice(1)))`,
  status: `(ctx.res.headersSent ? ctx.responseStatus : 0)`,
  bytes_in: `ctx.bytesIn`,
  bytes_out: `ctx.bytesOut`,
  duration_ms: `ms(ctx.finishedAt - ctx.startedAt)`,
  gateway_ms: `ms(ctx.finishedAt - ctx.startedAt - ctx.upstreamMs)`,
  upstream_ms: `(ctx.attempt === 0 ? 'null' : ms(ctx.upstreamMs))`,
  upstream_header_ms: `(ctx.upstreamRespondedAt === 0 || ctx.upstreamStartedAt === 0 ? 'null' : ms(ctx.upstreamRespondedAt - ctx.upstreamStartedAt))`,
  attempts: `ctx.attempt`,
  route: `c(ctx.route?.name)`,
  service: `c(ctx.route?.service.name)`,
  upstream: `c(ctx.route?.service.upstream.name)`,
  backend: `c(ctx.backend?.name)`,
  target: `c(ctx.target?.url)`,
  consumer: `c(ctx.consumer?.username)`,
  credential: `c(ctx.credential?.id)`,
  user_agent: `w(ctx.userAgent)`,
  referer: `w(ctx.header('referer'))`,
  error: `s(ctx.errorCode)`,
};

export const ACCESS_LOG_FIELDS: readonly string[] = Object.keys(FIELDS);

/** What is logged when `access_log.fields` is not set (the line of earlier versions, renamed latencies, plus the split). */
export const DEFAULT_ACCESS_LOG_FIELDS: readonly string[] = [
  'time',
  'pid',
  'request_id',
  'client_ip',
  'method',
  'host',
  'path',
  'status',
  'route',
  'service',
  'target',
  'bytes_in',
  'bytes_out',
  'duration_ms',
  'upstream_ms',
  'gateway_ms',
  'error',
];

/** `req.h.NAME` / `res.h.NAME`: a request or response header (lower-case token name). */
const HEADER_FIELD = /^(req|res)\.h\.([a-z0-9!#$%&'*+.^_`|~-]+)$/;

/** Client-controlled text is cut to this many characters in the log (a 16 KB header makes no useful log line). */
export const MAX_LOGGED_CHARS = 2048;

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const ABOVE_LATIN1 = /[\u0100-\uffff]/;
const SEPARATORS = /[\u2028\u2029]/;

/** A string from the config or the core (Unicode): quoted, escaped only when needed. */
function s(v: string | null | undefined): string {
  return v === null || v === undefined ? 'null' : NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}

/**
 * Text from the wire (path, query, headers): node:http reads its bytes as latin1, so bytes
 * above 0x7f are read back as UTF-8 (invalid sequences become U+FFFD, as Go's JSON encoder
 * does) and control characters are escaped: the line stays one valid UTF-8 JSON line.
 */
function w(v: string | null | undefined): string {
  if (v === null || v === undefined) return 'null';
  const long = v.length > MAX_LOGGED_CHARS;
  if (!long && !NEEDS_ESCAPE.test(v)) return `"${v}"`;
  if (long) v = v.slice(0, MAX_LOGGED_CHARS);
  if (!ABOVE_LATIN1.test(v)) v = Buffer.from(v, 'latin1').toString('utf8');
  if (long) v += '…';
  const json = JSON.stringify(v);
  // Valid JSON either way, but some line-oriented tools split on U+2028/U+2029.
  return SEPARATORS.test(json) ? json.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') : json;
}

/** JSON text of names from the config (routes, services, targets, consumers), few and repeated on every line: kept once made. */
const configText = new Map<string, string>();
function c(v: string | null | undefined): string {
  if (v === null || v === undefined) return 'null';
  let text = configText.get(v);
  if (text === undefined) {
    // Bounded: consumers made at runtime (admin API, portal) may come and go.
    if (configText.size >= 10_000) configText.clear();
    configText.set(v, (text = s(v)));
  }
  return text;
}

/** For the error log (same escaping as the access log). */
export { s as jsonText, w as wireText };

/**
 * Milliseconds rounded to the microsecond, as JSON number text (`12.345`, `0.5`, `7`): the
 * same text `String(Math.round(n * 1000) / 1000)` gives, built from integers, because V8's
 * double-to-string took ~0.4 µs per call here and a line has three of them.
 */
export function ms(n: number): string {
  let us = Math.round(n * 1000);
  if (!Number.isSafeInteger(us)) return String(Math.round(n * 1000) / 1000);
  let sign = '';
  if (us < 0) {
    sign = '-';
    us = -us;
  }
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return sign + whole;
  if (frac % 100 === 0) return `${sign}${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${sign}${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${sign}${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** The request's trace id: the server span's (tracing on), else a valid incoming `traceparent`'s, else null. */
export function traceIdOf(ctx: RequestContext): string | null {
  if (ctx.traceId !== '') return ctx.traceId;
  return parseTraceparent(ctx.traceparent)?.traceId ?? null;
}

const responseHeader = (ctx: RequestContext, name: string): string | undefined => ctx.responseHeaders.get(name);

const HELPERS = { s, c, w, ms, traceIdOf, responseHeader };

/** What a credential is logged as. */
export const REDACTED = '[redacted]';
/** Request headers that carry credentials, always redacted; the configured key-auth key names are added. */
export const REDACTED_REQUEST_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie', 'apikey', 'x-api-key'];
export const REDACTED_RESPONSE_HEADERS: readonly string[] = ['set-cookie'];
/**
 * Query parameters that carry credentials, always redacted; the configured key names are
 * added. RFC 6750's access_token, and what OpenID Connect puts in URLs: the authorization
 * code of a callback, the ID token of an RP-initiated logout, tokens of implicit flows.
 */
export const REDACTED_QUERY_PARAMS: readonly string[] = ['apikey', 'x-api-key', 'access_token', 'code', 'id_token', 'id_token_hint', 'refresh_token', 'logout_token'];

/** Names whose values never reach the log (lower case). */
export interface Redaction {
  readonly requestHeaders: ReadonlySet<string>;
  readonly queryParams: ReadonlySet<string>;
}

export const DEFAULT_REDACTION: Redaction = redactionFor([]);

/** The redaction for a config whose key-auth plugins name `keyNames`. */
export function redactionFor(keyNames: readonly string[]): Redaction {
  const lower = keyNames.map((n) => n.toLowerCase());
  return { requestHeaders: new Set([...REDACTED_REQUEST_HEADERS, ...lower]), queryParams: new Set([...REDACTED_QUERY_PARAMS, ...lower]) };
}

const PARAM = /([^&#?=]*)=([^&#]*)/g;
const escapeRegExp = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The function that writes query text (`a=1&apikey=…`, or a URL with a query) with the
 * values of the named parameters replaced by [redacted]. Names are matched decoded and in
 * any case (`APIKEY`, `api%6Bey`); text that names none of them (in any case, and without
 * escapes) is returned as it is after one regex test.
 */
export function queryRedactor(names: ReadonlySet<string>): (text: string | undefined) => string | undefined {
  const hint = new RegExp(`${[...names].map(escapeRegExp).join('|')}|[%+]`, 'i');
  const replace = (pair: string, name: string): string => (names.has(paramName(name)) ? `${name}=${REDACTED}` : pair);
  return (text) => (text === undefined || !hint.test(text) ? text : text.replace(PARAM, replace));
}

function fieldExpression(name: string, redaction: Redaction): string {
  // Credentials: a header is [redacted] when present; query text keeps its other parameters.
  if (name === 'query') return `(ctx.query === '' ? 'null' : w(rq(ctx.query.slice(1))))`;
  if (name === 'referer') return `w(ru(ctx.header('referer')))`;
  const known = FIELDS[name];
  if (known !== undefined) return known;
  const m = HEADER_FIELD.exec(name);
  if (m === null) throw new Error(`unknown access log field ${name}`);
  const header = JSON.stringify(m[2]);
  if (m[1] === 'req') {
    if (redaction.requestHeaders.has(m[2]!)) return `(ctx.header(${header}) === undefined ? 'null' : '"${REDACTED}"')`;
    return m[2] === 'referer' ? `w(ru(ctx.header('referer')))` : `w(ctx.header(${header}))`;
  }
  if (REDACTED_RESPONSE_HEADERS.includes(m[2]!)) return `(responseHeader(ctx, ${header}) === undefined ? 'null' : '"${REDACTED}"')`;
  return `w(responseHeader(ctx, ${header}))`;
}

/** What every access line starts with; its first field's key (`,"NAME":`) follows. */
const LINE_START = '{"level":"info","type":"access"';

/**
 * Builds the serializer for a field list (validated before: see fieldProblems). The line
 * is `{"level":"info","type":"access",<fields in the configured order>}` and a newline; as a
 * `record` (what log sinks ship), `{<fields>}` alone without the newline. Credential
 * headers and query parameters of `redaction` are logged as [redacted].
 */
export function compileAccessLine(fields: readonly string[], redaction: Redaction = DEFAULT_REDACTION, record = false): AccessLineFn {
  // Constant text and field expressions alternate; constants are emitted as JSON string literals.
  let text = record ? '{' : LINE_START;
  let code = '';
  fields.forEach((name, i) => {
    text += `${record && i === 0 ? '' : ','}${JSON.stringify(name)}:`;
    code += `${JSON.stringify(text)} + ${fieldExpression(name, redaction)} + `;
    text = '';
  });
  code += JSON.stringify(record ? text + '}' : text + '}\n');
  return generate<AccessLineFn>(redaction, 'accessLine(ctx, time, pid)', `return ${code};`);
}

/** A record (as compileAccessLine's with `record`) made from the request's access line, whose fields it copies. */
export type RecordFromLineFn = (ctx: RequestContext, time: string, pid: number, line: string) => string;

/**
 * The serializer of the record of `fields` (as compileAccessLine's with `record`) from the
 * access line of `lineFields` (the same redaction): the fields both have are copied from the
 * line — runs of fields that are neighbours in both, one slice each — and only the others are
 * made. The line is already one flat string (its writer encoded it), so a slice costs no
 * copy and the record is a few pieces instead of one per field: making it and encoding it
 * into a batch cost about half what the record made field by field did. Byte for byte the same
 * record: every key in a line is `,"NAME":`, which no value contains (a quote in a value is
 * escaped), and `time` is the line's own (the end of the request, as a record's).
 */
export function compileRecordFromLine(fields: readonly string[], lineFields: readonly string[], redaction: Redaction = DEFAULT_REDACTION): RecordFromLineFn {
  const at = new Map(lineFields.map((f, i) => [f, i]));
  const key = (i: number): string => JSON.stringify(`,${JSON.stringify(lineFields[i])}:`);
  const lines: string[] = [];
  const parts: string[] = [];
  let text = '{';
  let from = '0';
  let last = -1;
  for (let i = 0; i < fields.length; ) {
    const first = at.get(fields[i]!);
    if (first === undefined) {
      text += `${i === 0 ? '' : ','}${JSON.stringify(fields[i])}:`;
      parts.push(JSON.stringify(text), fieldExpression(fields[i]!, redaction));
      text = '';
      i++;
      continue;
    }
    // The run: the next fields that follow each other in the line too.
    let end = first + 1;
    for (i++; i < fields.length && at.get(fields[i]!) === end; i++) end++;
    const n = lines.length;
    const keyAt = first === 0 ? String(LINE_START.length) : `line.indexOf(${key(first)}, ${first > last ? from : '0'})`;
    lines.push(`const a${n} = ${keyAt}${parts.length === 0 && text === '{' ? ' + 1' : ''};`);
    lines.push(`const b${n} = ${end < lineFields.length ? `line.indexOf(${key(end)}, a${n})` : 'line.length - 2'};`);
    if (text !== '') parts.push(JSON.stringify(text));
    parts.push(`line.slice(a${n}, b${n})`);
    text = '';
    from = `b${n}`;
    last = end - 1;
  }
  parts.push(JSON.stringify(text + '}'));
  return generate<RecordFromLineFn>(redaction, 'recordFromLine(ctx, time, pid, line)', `${lines.join('\n  ')}\n  return ${parts.join(' + ')};`);
}

/** The function `signature` with `body`, the field helpers (and the redaction's) in scope. */
function generate<F>(redaction: Redaction, signature: string, body: string): F {
  const rq = queryRedactor(redaction.queryParams);
  // A URL (the Referer): its query, from the first "?".
  const ru = (url: string | undefined): string | undefined => {
    const q = url === undefined ? -1 : url.indexOf('?');
    return q === -1 ? url : url!.slice(0, q + 1) + rq(url!.slice(q + 1))!;
  };
  const helpers: Record<string, unknown> = { ...HELPERS, rq, ru };
  const names = Object.keys(helpers);
  const factory = new Function(...names, `"use strict";\nreturn function ${signature} {\n  ${body}\n};`) as (...helpers: unknown[]) => F;
  return factory(...names.map((n) => helpers[n]));
}

export interface AccessLogSpec {
  /** The log file, or null for stdout. */
  readonly path: string | null;
  readonly fields: readonly string[];
  readonly line: AccessLineFn;
}

const compiled = new Map<string, AccessLineFn>();

/**
 * The compiled `access_log` section (null when turned off); one serializer per distinct field
 * list and set of key names, kept across reloads. `keyNames`: the key-auth key names of the
 * config, redacted as headers and as query parameters.
 */
export function compileAccessLog(config: { enabled?: boolean; path?: string; fields?: string[] } | undefined, keyNames: readonly string[] = []): AccessLogSpec | null {
  if (config?.enabled === false) return null;
  const fields = config?.fields ?? DEFAULT_ACCESS_LOG_FIELDS;
  const names = [...new Set(keyNames.map((n) => n.toLowerCase()))].sort();
  const key = `${fields.join('\n')}\u0000${names.join('\n')}`;
  let line = compiled.get(key);
  if (line === undefined) {
    // Bounded: key names come and go with reloads.
    if (compiled.size >= 1000) compiled.clear();
    compiled.set(key, (line = compileAccessLine(fields, redactionFor(names))));
  }
  const path = config?.path ?? null;
  return { path: path === null || path === '-' ? null : path, fields, line };
}

/** Problems in `access_log` that the schema cannot express: field names, the log file's folder. */
export function accessLogProblems(config: { path?: string; fields?: string[] } | undefined): ConfigProblem[] {
  const problems = fieldProblems(config?.fields, ['access_log', 'fields']);
  const path = config?.path;
  if (path !== undefined && path !== '-') {
    const dir = dirname(path);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) problems.push({ path: ['access_log', 'path'], message: `folder not found: ${dir}` });
    else if (!writable(path)) problems.push({ path: ['access_log', 'path'], message: `not writable by this process: ${path}` });
  }
  return problems;
}

/** Unknown names in a field list (the access log's, or a log sink's at `at`). */
export function fieldProblems(fields: readonly string[] | undefined, at: ReadonlyArray<string | number>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  (fields ?? []).forEach((name, i) => {
    if (FIELDS[name] !== undefined || HEADER_FIELD.test(name)) return;
    const hint = /^(req|res)\.h\./.test(name) ? ' (header names are lower-case tokens)' : didYouMeanText(name);
    problems.push({ path: [...at, i], message: `unknown field "${name}"${hint}; fields: ${ACCESS_LOG_FIELDS.join(', ')}, req.h.NAME, res.h.NAME` });
  });
  return problems;
}

/** The file, or its folder when the file does not exist yet, may be written by this process. */
function writable(path: string): boolean {
  try {
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function didYouMeanText(name: string): string {
  const d = didYouMean(name, ACCESS_LOG_FIELDS);
  return d === undefined ? '' : ` (did you mean "${d}"?)`;
}
