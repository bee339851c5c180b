// `request-validator`: checks each request against the operation of the service's OpenAPI
// document it is (parameters of every kind, the JSON body read up to a bound) and refuses it
// with one 400 problem listing every error with its JSON pointer. With `responses: report`
// the upstream's responses are checked too (status, media type, JSON body up to a bound) and
// counted, never altered; `enforce` answers 502 for an undescribed status or media type.
import { Transform } from 'node:stream';
import type { Plugin, PluginHandler } from '../../sdk/plugin.js';
import type { PluginContext } from '../../sdk/context.js';
import type { OpenApiContract, OpenApiObject, OpenApiOperation, SchemaCheck, SchemaIssue } from '../../sdk/openapi.js';
import { LocalReply } from '../../sdk/local-reply.js';
import { localKey } from '../../sdk/local-key.js';
import { PROBLEM_TYPE_PREFIX, ERRORS } from '../../base/errors.js';
import { operationIndex } from './operation-index.js';
import { checkParameters, planParameters, type ParameterPlan } from './parameters.js';
import { deeperThan } from './json-depth.js';
import { firstHeader } from '../../base/raw-headers.js';
import { reportViolation } from './violations.js';
import { requestValidatorSchema, type RequestValidatorConfig } from './schema.js';

const kOperation = localKey<OpenApiOperation>('request-validator.operation');
const kResponseBody = localKey<{ check: (value: unknown) => readonly SchemaIssue[] | null; chunks: Buffer[]; bytes: number; over: boolean }>('request-validator.response-body');

const NO_PATH_PARAMS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

const DEFAULTS = { maxBodyBytes: 1024 * 1024, maxDepth: 64, maxResponseBytes: 1024 * 1024, logSample: 0.01 };

/** The media type of a Content-Type value: lower case, without parameters. */
export function mediaType(value: string | undefined): string {
  if (value === undefined) return '';
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/** The key of `content` that describes `type`: itself, "type/*", "*\/*"; null when none does. */
export function contentKey(content: OpenApiObject | undefined, type: string): string | null {
  if (content === undefined) return null;
  const keys = Object.keys(content);
  const lower = new Map(keys.map((k) => [k.toLowerCase(), k]));
  return lower.get(type) ?? lower.get(type.slice(0, type.indexOf('/') + 1) + '*') ?? lower.get('*/*') ?? null;
}

/** The Response Object of `status`: its own, its class ("4XX"), or "default". */
export function responseFor(op: OpenApiOperation, status: number): { key: string; response: OpenApiObject } | null {
  for (const key of [String(status), `${Math.floor(status / 100)}XX`, 'default']) {
    const response = op.responses[key];
    if (response !== undefined) return { key, response };
  }
  return null;
}

function invalid(issues: SchemaIssue[], op: OpenApiOperation): LocalReply {
  const detail = `${issues.length} problem${issues.length === 1 ? '' : 's'} with the request to ${op.label}: ${issues[0]!.pointer} ${issues[0]!.message}${issues.length > 1 ? '; …' : ''}`;
  return LocalReply.error('request-invalid', detail, undefined, { errors: issues });
}

export const requestValidatorPlugin: Plugin<RequestValidatorConfig> = {
  name: 'request-validator',
  priority: 880,
  needsOpenApi: true,
  schema: requestValidatorSchema,
  create(config, scope) {
    const contract = scope.openapi;
    // A route of a service without a document (a global instance): nothing to check.
    if (contract === undefined) return {};
    return validatorHandler(contract, config);
  },
};

/** What the request phase needs of an operation, worked out at create: no lookups or allocations per request that pass. */
interface OperationPlan {
  readonly op: OpenApiOperation;
  readonly parameters: readonly ParameterPlan[];
  /** Some parameter is `in: path`: only then are the path's values taken apart. */
  readonly pathParameters: boolean;
  readonly bodyRequired: boolean;
  /** Null: the operation describes no body (one sent is forwarded unchecked). */
  readonly content: ReadonlyMap<string, SchemaCheck | null> | null;
  /** The media types it takes, for the 415 detail. */
  readonly listed: string;
}

function planOperation(doc: OpenApiObject, op: OpenApiOperation): OperationPlan {
  const requestBody = op.requestBody;
  let content: Map<string, SchemaCheck | null> | null = null;
  const described = (requestBody?.['content'] ?? {}) as OpenApiObject;
  if (requestBody !== null) {
    content = new Map();
    for (const key of Object.keys(described)) {
      const lower = key.toLowerCase();
      if (!content.has(lower)) content.set(lower, op.validators.body.get(lower) ?? null);
    }
  }
  const parameters = planParameters(doc, op);
  return { op, parameters, pathParameters: parameters.some((p) => p.in === 'path'), bodyRequired: requestBody?.['required'] === true, content, listed: Object.keys(described).join(', ') };
}

/** The entry of `content` for a media type: itself, "type/*", "*\/*"; undefined when none describes it. */
function contentEntry(content: ReadonlyMap<string, SchemaCheck | null>, type: string): SchemaCheck | null | undefined {
  const own = content.get(type);
  if (own !== undefined) return own;
  return content.get(type.slice(0, type.indexOf('/') + 1) + '*') ?? content.get('*/*');
}

function validatorHandler(contract: OpenApiContract, config: RequestValidatorConfig): PluginHandler {
  const index = operationIndex(contract);
  const refuseUnknown = (config.unknown_operations ?? 'refuse') === 'refuse';
  const maxBody = config.max_body_bytes ?? DEFAULTS.maxBodyBytes;
  const maxDepth = config.max_depth ?? DEFAULTS.maxDepth;
  const responses = config.responses ?? 'off';
  const sample = config.log_sample ?? DEFAULTS.logSample;
  const doc = contract.document;
  const plans = contract.operations.map((op) => planOperation(doc, op));
  const title = contract.document['info'] !== undefined ? String((contract.document['info'] as OpenApiObject)['title']) : 'OpenAPI document';

  const checkJson = (ctx: PluginContext, op: OpenApiOperation, check: SchemaCheck, body: Buffer | null, found: SchemaIssue[] | null): LocalReply | undefined => {
    if (body === null) return tooLarge(ctx, op);
    let issues = found;
    // A body of no more bytes than the bound cannot nest deeper than it: no scan.
    if (body.length > maxDepth && deeperThan(body, maxDepth)) (issues ??= []).push({ pointer: '/body', message: `is nested deeper than ${maxDepth} levels` });
    else {
      let value: unknown;
      try {
        value = JSON.parse(body.toString('utf8'));
      } catch {
        (issues ??= []).push({ pointer: '/body', message: 'is not valid JSON' });
        return refuse(ctx, op, issues);
      }
      const bad = check(value);
      if (bad !== null) for (const i of bad) (issues ??= []).push({ pointer: '/body' + i.pointer, message: i.message });
    }
    return issues !== null ? refuse(ctx, op, issues) : pass(ctx, op);
  };
  // The operation is kept for the response checks only once the request passed (not on our own refusal).
  const pass = responses === 'off' ? (): undefined => undefined : (ctx: PluginContext, op: OpenApiOperation): undefined => void ctx.setLocal(kOperation, op);
  const tooLarge = (ctx: PluginContext, op: OpenApiOperation): LocalReply => {
    reportViolation(ctx, op.label, 'request', 413, [{ pointer: '/body', message: `is larger than ${maxBody} bytes` }], sample);
    return LocalReply.error('body-too-large', `the body of a request to ${op.label} is checked up to ${maxBody} bytes`);
  };
  const refuse = (ctx: PluginContext, op: OpenApiOperation, issues: SchemaIssue[]): LocalReply => {
    reportViolation(ctx, op.label, 'request', 400, issues, sample);
    return invalid(issues, op);
  };

  const handler: PluginHandler = {
    request(ctx) {
      const at = index.find(ctx.method, ctx.path);
      if (at < 0) {
        reportViolation(ctx, null, 'unknown-operation', refuseUnknown ? 404 : 0, [], sample);
        return refuseUnknown ? LocalReply.error('operation-not-found', `${ctx.method} ${ctx.path} is not an operation of the API (${title})`) : undefined;
      }
      const plan = plans[at]!;
      const op = plan.op;
      let issues = plan.parameters.length === 0 ? null : checkParameters(ctx, plan.parameters, plan.pathParameters ? index.paramsOf(at, ctx.path) : NO_PATH_PARAMS, null);
      const hasBody = ctx.requestBodyLength > 0 || ctx.requestChunked;
      if (!hasBody) {
        if (plan.bodyRequired) (issues ??= []).push({ pointer: '/body', message: 'is required' });
        return issues !== null ? refuse(ctx, op, issues) : pass(ctx, op);
      }
      const content = plan.content;
      if (content === null) return issues !== null ? refuse(ctx, op, issues) : pass(ctx, op);
      const type = mediaType(firstHeader(ctx.rawHeaders, 'content-type'));
      const check = contentEntry(content, type);
      if (check === undefined) {
        reportViolation(ctx, op.label, 'request', 415, [{ pointer: '/header/content-type', message: `is not one of ${plan.listed}` }], sample);
        return LocalReply.error('unsupported-media-type', `${op.label} takes ${plan.listed}, not ${type || 'a body without Content-Type'}`);
      }
      if (check === null) return issues !== null ? refuse(ctx, op, issues) : pass(ctx, op);
      if (ctx.requestBodyLength > maxBody) return tooLarge(ctx, op);
      // A body that came with the head is checked at once: the request phase stays synchronous.
      const ready = ctx.bufferedRequestBody(maxBody);
      if (ready !== undefined) return checkJson(ctx, op, check, ready, issues);
      const found = issues;
      return ctx.readRequestBody(maxBody).then((body) => checkJson(ctx, op, check, body, found));
    },
  };
  if (responses === 'off') return handler;
  return { ...handler, ...responseHooks(responses, config.max_response_bytes ?? DEFAULTS.maxResponseBytes, sample) };
}

function responseHooks(mode: 'report' | 'enforce', maxBytes: number, sample: number): Partial<PluginHandler> {
  return {
    observesBodyOnly: true,
    responseHeaders(ctx) {
      const op = ctx.local(kOperation);
      if (op === undefined) return;
      const status = ctx.responseStatus;
      const described = responseFor(op, status);
      const type = mediaType(ctx.responseHeaders.get('content-type'));
      const content = described?.response['content'] as OpenApiObject | undefined;
      const noBody = status === 204 || status === 304 || ctx.method === 'HEAD' || ctx.responseHeaders.get('content-length') === '0';
      let problem: SchemaIssue | null = null;
      if (described === null) problem = { pointer: '/status', message: `${status} is not a response the operation describes` };
      else if (!noBody && content !== undefined && Object.keys(content).length > 0 && contentKey(content, type) === null) problem = { pointer: '/header/content-type', message: `${type || 'none'} is not one of ${Object.keys(content).join(', ')}` };
      if (problem !== null) {
        reportViolation(ctx, op.label, 'response', status, [problem], sample);
        if (mode === 'enforce') replaceWithProblem(ctx, `the upstream's response to ${op.label} breaks the API description: ${problem.pointer} ${problem.message}`);
        return;
      }
      const key = content !== undefined ? contentKey(content, type) : null;
      const check = key !== null ? op.validators.responses.get(described!.key)?.get(key.toLowerCase()) : undefined;
      if (check !== undefined && !noBody) ctx.setLocal(kResponseBody, { check, chunks: [], bytes: 0, over: false });
    },
    responseChunk(ctx, chunk) {
      const body = ctx.local(kResponseBody);
      if (body !== undefined && !body.over) {
        body.bytes += chunk.length;
        if (body.bytes > maxBytes) body.over = true;
        else body.chunks.push(chunk);
      }
      return chunk;
    },
    responseEnd(ctx) {
      const body = ctx.local(kResponseBody);
      if (body === undefined || body.over) return undefined;
      let issues: readonly SchemaIssue[] | null;
      try {
        issues = body.check(JSON.parse(Buffer.concat(body.chunks).toString('utf8')));
      } catch {
        issues = [{ pointer: '', message: 'is not valid JSON' }];
      }
      if (issues !== null) reportViolation(ctx, ctx.local(kOperation)!.label, 'response', ctx.responseStatus, issues.map((i) => ({ pointer: '/body' + i.pointer, message: i.message })), sample);
      return undefined;
    },
  };
}

/** `enforce`: the client gets a 502 problem instead of the upstream's response (its body is dropped). */
function replaceWithProblem(ctx: PluginContext, detail: string): void {
  const spec = ERRORS['response-invalid'];
  const body = Buffer.from(JSON.stringify({ type: PROBLEM_TYPE_PREFIX + 'response-invalid', title: spec.title, status: spec.status, detail, request_id: ctx.id }));
  ctx.responseStatus = spec.status;
  for (const name of ['content-length', 'content-encoding', 'content-range', 'etag', 'last-modified', 'cache-control', 'set-cookie']) ctx.responseHeaders.removeLowerCase(name);
  ctx.responseHeaders.setLowerCase('content-type', 'application/problem+json');
  ctx.responseHeaders.setLowerCase('cache-control', 'no-store');
  ctx.pipeResponseThrough(
    new Transform({
      transform: (_chunk, _enc, done) => done(),
      flush(done) {
        done(null, body);
      },
    }),
  );
}
