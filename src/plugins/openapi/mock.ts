// `mock`: answers from the service's OpenAPI document instead of the upstream, for
// design-first work before the upstream exists. The response is the operation's first
// described 2xx (else `default`), or the one `Prefer: code=…` asks for; its body is the
// named example (`Prefer: example=…`), the first of `examples`, `example`, or one generated
// from the schema (openapi-sampler, write-only properties left out). Answers (the body and
// its complete header list) are built once per operation, status, media type and example,
// then reused: a reply copies the list and hands it to the core as it is (LocalReply.prebuilt).
import { createRequire } from 'node:module';
import type { Plugin } from '../../sdk/plugin.js';
import type { PluginContext } from '../../sdk/context.js';
import type { OpenApiContract, OpenApiObject, OpenApiOperation } from '../../sdk/openapi.js';
import { LocalReply } from '../../sdk/local-reply.js';
import { derefIn, operationIndex } from './operation-index.js';
import { reportViolation } from './violations.js';
import { hasEitherHeader, joinedHeader } from '../../base/raw-headers.js';
import { mockSchema, type MockConfig } from './schema.js';

const require = createRequire(import.meta.url);
let sampler: typeof import('openapi-sampler') | undefined;

interface Prefer {
  readonly code: string | null;
  readonly example: string | null;
}

/** `Prefer: code=404, example=notFound` (RFC 7240 preferences; other ones ignored). */
export function parsePrefer(header: string | undefined): Prefer {
  if (header === undefined) return { code: null, example: null };
  let code: string | null = null;
  let example: string | null = null;
  for (const part of header.split(/[,;]/)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (name === 'code' && /^[1-5][0-9][0-9]$/.test(value)) code = value;
    else if (name === 'example' && value.length > 0 && value.length <= 200) example = value;
  }
  return { code, example };
}

/** The status to answer: the preferred one if described, else the first 2xx, else `default` (as 200). */
function pickStatus(op: OpenApiOperation, preferred: string | null): { status: number; key: string } | string {
  const keys = Object.keys(op.responses);
  if (preferred !== null) {
    const key = [preferred, `${preferred[0]}XX`, 'default'].find((k) => op.responses[k] !== undefined);
    if (key === undefined) return `Prefer: code=${preferred}: ${op.label} describes ${keys.join(', ') || 'no responses'}`;
    return { status: Number(preferred), key };
  }
  const success = keys.filter((k) => /^2[0-9][0-9]$/.test(k)).sort()[0];
  if (success !== undefined) return { status: Number(success), key: success };
  if (op.responses['2XX'] !== undefined) return { status: 200, key: '2XX' };
  if (op.responses['default'] !== undefined) return { status: 200, key: 'default' };
  const first = keys.find((k) => /^[1-5][0-9][0-9]$/.test(k));
  return first !== undefined ? { status: Number(first), key: first } : `${op.label} describes no response`;
}

/** The media type to answer: one the client accepts if the response has it (JSON first), else the first. */
function pickMediaType(content: OpenApiObject, accept: string | undefined): string | null {
  const types = Object.keys(content);
  if (types.length === 0) return null;
  const accepted = accept === undefined ? [] : accept.split(',').map((a) => a.split(';')[0]!.trim().toLowerCase());
  const json = types.find((t) => t.toLowerCase() === 'application/json' || t.toLowerCase().endsWith('+json'));
  return types.find((t) => accepted.includes(t.toLowerCase())) ?? json ?? types[0]!;
}

function bodyFrom(doc: OpenApiObject, media: OpenApiObject, example: string | null): { value: unknown } | string {
  const examples = media['examples'] as Record<string, unknown> | undefined;
  if (example !== null) {
    const named = derefIn(doc, examples?.[example]);
    if (named === null || !('value' in named)) return `Prefer: example=${example}: the response has ${examples !== undefined ? Object.keys(examples).join(', ') : 'no named examples'}`;
    return { value: named['value'] };
  }
  if (examples !== undefined) {
    for (const e of Object.values(examples)) {
      const resolved = derefIn(doc, e);
      if (resolved !== null && 'value' in resolved) return { value: resolved['value'] };
    }
  }
  if ('example' in media) return { value: media['example'] };
  const schema = media['schema'];
  if (typeof schema !== 'object' || schema === null) return { value: undefined };
  sampler ??= require('openapi-sampler') as typeof import('openapi-sampler');
  return { value: sampler.sample(schema as never, { skipWriteOnly: true, quiet: true, maxSampleDepth: 8 }, doc as object) };
}

function render(type: string, value: unknown): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  const json = type.toLowerCase() === 'application/json' || type.toLowerCase().endsWith('+json');
  return Buffer.from(!json && typeof value === 'string' ? value : JSON.stringify(value));
}

export const mockPlugin: Plugin<MockConfig> = {
  name: 'mock',
  priority: 5,
  needsOpenApi: true,
  schema: mockSchema,
  create(config, scope) {
    const contract = scope.openapi;
    if (contract === undefined) return {};
    return { request: mockAnswer(contract, config) };
  },
};

/**
 * A built answer: its body and its complete header list (Content-Length included), copied
 * per reply. HEAD gets the same list (the GET's Content-Length, RFC 9110 8.6) without the body.
 */
interface Answer {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: readonly string[];
}

/** Answers kept for distinct Prefer and Accept values (these vary without bound), over all operations. */
const MAX_KEPT_ANSWERS = 10_000;

function mockAnswer(contract: OpenApiContract, config: MockConfig): (ctx: PluginContext) => LocalReply | undefined {
  const index = operationIndex(contract);
  const refuseUnknown = (config.unknown_operations ?? 'refuse') === 'refuse';
  const honourPrefer = config.prefer ?? true;
  const doc = contract.document;
  const operations = contract.operations;
  // Per operation: the answer to a request without Prefer and Accept, and the others by
  // "code\nexample\naccept"; each built on first use, then reused.
  const plain: Array<Answer | string | undefined> = contract.operations.map(() => undefined);
  const others: Array<Map<string, Answer | string> | undefined> = contract.operations.map(() => undefined);
  let kept = 0;
  return (ctx) => {
    const at = index.find(ctx.method, ctx.path);
    if (at < 0) {
      reportViolation(ctx, null, 'unknown-operation', refuseUnknown ? 404 : 0, [], 0);
      return refuseUnknown ? LocalReply.error('operation-not-found', `${ctx.method} ${ctx.path} is not an operation of the API`) : undefined;
    }
    const raw = ctx.rawHeaders;
    // Most requests carry neither header: one scan of the raw list finds out.
    let answer: Answer | string | undefined;
    if (!hasEitherHeader(raw, 'accept', honourPrefer ? 'prefer' : 'accept')) {
      answer = plain[at] ??= build(doc, operations[at]!, NO_PREFERENCE, undefined);
    } else {
      const preferHeader = honourPrefer ? joinedHeader(raw, 'prefer') : undefined;
      const accept = joinedHeader(raw, 'accept');
      const prefer = parsePrefer(preferHeader);
      const key = `${prefer.code ?? ''}\n${prefer.example ?? ''}\n${accept ?? ''}`;
      const built = (others[at] ??= new Map());
      answer = built.get(key);
      if (answer === undefined) {
        answer = build(doc, operations[at]!, prefer, accept);
        if (kept < MAX_KEPT_ANSWERS) {
          built.set(key, answer);
          kept++;
        }
      }
    }
    if (typeof answer === 'string') return LocalReply.error('bad-request', answer);
    // The core and response-phase plugins may edit the list: a copy per reply.
    if (ctx.method === 'HEAD') return LocalReply.prebuilt(answer.status, undefined, answer.headers.slice());
    return LocalReply.prebuilt(answer.status, answer.body, answer.headers.slice());
  };
}

const NO_PREFERENCE: Prefer = { code: null, example: null };

function answer(status: number, body: Buffer, type: string | null): Answer {
  const head = type === null ? ['cache-control', 'no-store'] : ['content-type', type, 'cache-control', 'no-store'];
  // 204 and 304 carry no body and no length of one.
  const headers = status === 204 || status === 304 ? head : [...head, 'content-length', String(body.length)];
  return { status, body, headers };
}

function build(doc: OpenApiObject, op: OpenApiOperation, prefer: Prefer, accept: string | undefined): Answer | string {
  const picked = pickStatus(op, prefer.code);
  if (typeof picked === 'string') return picked;
  const content = (op.responses[picked.key]!['content'] ?? {}) as OpenApiObject;
  const type = pickMediaType(content, accept);
  if (type === null || picked.status === 204 || picked.status === 304) return answer(picked.status, Buffer.alloc(0), null);
  const body = bodyFrom(doc, (derefIn(doc, content[type]) ?? {}) as OpenApiObject, prefer.example);
  if (typeof body === 'string') return body;
  return answer(picked.status, render(type, body.value), type.includes('*') ? 'application/json' : type);
}
