// Compiles every schema a document's operations use, once per document: parameters (with
// their values turned into the schema's types), JSON request bodies and JSON responses.
// Patterns run on RE2 (src/base/regex.ts), or as a RegExp when they are proven linear on a
// backtracking engine (src/base/linear-pattern.ts); every error is reported (allErrors), formats
// are ajv-formats' plus OpenAPI's own. A schema ajv cannot compile is a problem of the
// document, named by its JSON pointer.
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ErrorObject, Options, ValidateFunction } from 'ajv';
import { compileConfigRegex, type ConfigRegex } from '../base/regex.js';
import { isLinearPattern } from '../base/linear-pattern.js';
import type { OpenApiObject, OpenApiOperation, OperationValidators, SchemaCheck, SchemaIssue } from '../sdk/openapi.js';
import { documentFor } from './dialect.js';

const require = createRequire(import.meta.url);
const MAX_ISSUES = 50;

/** JSON media types: `application/json`, `*\/*+json`. */
export function isJsonMediaType(type: string): boolean {
  const t = type.toLowerCase();
  return t === 'application/json' || (t.endsWith('+json') && t.includes('/')) || t === '*/*' || t === 'application/*';
}

/**
 * RE2 matches UTF-8: given a string, it converts it into a new buffer on every call, which
 * costs about twice the match itself for a short value (and adds to the garbage). A value of
 * up to SCRATCH_CHARS is written into one reused buffer instead (the same UTF-8, lone
 * surrogates replaced the same way); ajv's checks call `test` only, synchronously.
 */
const SCRATCH = Buffer.allocUnsafe(4096);
const SCRATCH_CHARS = Math.floor(SCRATCH.length / 3);

function schemaPattern(re: ConfigRegex): { source: string; flags: string; test(input: string): boolean; toString(): string } {
  const onBytes = re as unknown as { test(input: Buffer): boolean };
  return {
    source: re.source,
    flags: re.flags,
    // ajv keeps one compiled pattern per toString() value.
    toString: () => String(re),
    test: (input) => (typeof input === 'string' && input.length <= SCRATCH_CHARS ? onBytes.test(SCRATCH.subarray(0, SCRATCH.write(input, 0, 'utf8'))) : re.test(input)),
  };
}

/**
 * A pattern that isLinearPattern proves linear on a backtracking engine runs as a RegExp
 * (no native call, no copy of the value); any other runs on RE2.
 */
const patternEngine = Object.assign(
  (pattern: string, flags: string) => {
    if (isLinearPattern(pattern, flags)) {
      try {
        return new RegExp(pattern, flags);
      } catch {
        // Not valid ECMAScript after all: RE2 says why.
      }
    }
    const re = compileConfigRegex(pattern, flags);
    if (typeof re === 'string') throw new Error(re);
    return schemaPattern(re);
  },
  { code: 'require("re2")' },
);

function newAjv(version: '3.0' | '3.1', coerce: boolean): AjvClass {
  const options: Options = { strict: false, allErrors: true, validateSchema: false, discriminator: true, logger: false, coerceTypes: coerce ? 'array' : false, code: { regExp: patternEngine } };
  const Ajv = (version === '3.1' ? require('ajv/dist/2020').default : require('ajv').default) as new (o: Options) => AjvClass;
  const ajv = new Ajv(options);
  require('ajv-formats').default(ajv);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  for (const f of ['binary', 'password']) ajv.addFormat(f, true);
  return ajv;
}

// What a `false` schema means here: dialect.ts puts one where a property is hidden in a direction.
const HIDDEN = { request: 'is read-only: a request must not send it', response: 'is write-only: a response must not return it' } as const;

function issues(errors: readonly ErrorObject[] | null | undefined, strip: string, direction: 'request' | 'response'): SchemaIssue[] {
  return (errors ?? []).slice(0, MAX_ISSUES).map((e) => {
    let pointer = e.instancePath.startsWith(strip) ? e.instancePath.slice(strip.length) : e.instancePath;
    if (e.keyword === 'additionalProperties') {
      pointer += '/' + (e.params as { additionalProperty: string }).additionalProperty.replace(/~/g, '~0').replace(/\//g, '~1');
      return { pointer, message: 'is not a property the schema allows' };
    }
    if (e.keyword === 'false schema') return { pointer, message: HIDDEN[direction] };
    if (e.keyword === 'discriminator') return { pointer: `${pointer}/${String((e.params as { tag: string }).tag)}`, message: e.message ?? 'names no schema of oneOf' };
    const extra = e.keyword === 'enum' ? `: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues).slice(0, 200)}` : '';
    return { pointer, message: `${e.message ?? 'is invalid'}${extra}` };
  });
}

function check(validate: ValidateFunction, direction: 'request' | 'response'): SchemaCheck {
  return (value) => (validate(value) ? null : issues(validate.errors, '', direction));
}

/** A parameter's check: the value is wrapped so that ajv can turn a string into the schema's type in place. */
function parameterCheck(validate: ValidateFunction): SchemaCheck {
  return (value) => (validate({ v: value }) ? null : issues(validate.errors, '/v', 'request'));
}

type Compiled = { readonly validators: OperationValidators[] } | { readonly problem: string };
const compiled = new WeakMap<OpenApiObject, Compiled>();

/** The validators of every operation of `doc` (same order as `operations`), or the problem of a schema that does not compile. */
export function compileOperations(doc: OpenApiObject, version: '3.0' | '3.1', operations: readonly Omit<OpenApiOperation, 'validators'>[]): Compiled {
  let done = compiled.get(doc);
  if (done === undefined) {
    done = compileUncached(doc, version, operations);
    compiled.set(doc, done);
  }
  return done;
}

function compileUncached(doc: OpenApiObject, version: '3.0' | '3.1', operations: readonly Omit<OpenApiOperation, 'validators'>[]): Compiled {
  const requestDoc = documentFor(doc, version, 'request', 'https://openapi.northgate.invalid/request.json');
  const responseDoc = documentFor(doc, version, 'response', 'https://openapi.northgate.invalid/response.json');
  const inRequest = mirrorMap(doc, requestDoc);
  const inResponse = mirrorMap(doc, responseDoc);
  const params = newAjv(version, true);
  const bodies = newAjv(version, false);
  params.addSchema(requestDoc);
  bodies.addSchema(requestDoc);
  bodies.addSchema(responseDoc);
  let where = '';
  try {
    const validators = operations.map((op): OperationValidators => {
      const parameters = op.parameters.map((p) => {
        where = `${op.label}: parameter "${String(p['name'])}"`;
        // A parameter serialized as a media type (`content`) is checked as received.
        if (typeof p['schema'] !== 'object' || p['schema'] === null) return null;
        return parameterCheck(params.compile({ type: 'object', properties: { v: inRequest.get(p)?.['schema'] ?? {} } }));
      });
      const body = new Map<string, SchemaCheck>();
      const requestContent = (inRequest.get(op.requestBody as object)?.['content'] ?? {}) as Record<string, OpenApiObject>;
      for (const [type, media] of Object.entries(requestContent)) {
        if (!isJsonMediaType(type) || typeof media?.['schema'] !== 'object') continue;
        where = `${op.label}: request body ${type}`;
        body.set(type.toLowerCase(), check(bodies.compile(media['schema'] as object), 'request'));
      }
      const responses = new Map<string, Map<string, SchemaCheck>>();
      for (const [status, response] of Object.entries(op.responses)) {
        const byType = new Map<string, SchemaCheck>();
        for (const [type, media] of Object.entries((inResponse.get(response)?.['content'] ?? {}) as Record<string, OpenApiObject>)) {
          if (!isJsonMediaType(type) || typeof media?.['schema'] !== 'object') continue;
          where = `${op.label}: response ${status} ${type}`;
          byType.set(type.toLowerCase(), check(bodies.compile(media['schema'] as object), 'response'));
        }
        responses.set(status, byType);
      }
      return { parameters, body, responses };
    });
    return { validators };
  } catch (err) {
    return { problem: `${where}: the schema cannot be compiled: ${(err as Error).message}` };
  }
}

/** Each object of `doc` to the object at the same place in `copy` (documentFor keeps the shape). */
function mirrorMap(doc: OpenApiObject, copy: Record<string, unknown>): Map<object, Record<string, unknown>> {
  const map = new Map<object, Record<string, unknown>>();
  const stack: Array<[unknown, unknown]> = [[doc, copy]];
  while (stack.length > 0) {
    const [d, c] = stack.pop()!;
    if (typeof d !== 'object' || d === null || typeof c !== 'object' || c === null || map.has(d)) continue;
    map.set(d, c as Record<string, unknown>);
    for (const [k, v] of Object.entries(d)) if (typeof v === 'object' && v !== null) stack.push([v, (c as Record<string, unknown>)[k]]);
  }
  return map;
}
