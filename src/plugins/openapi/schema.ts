// The configs of `request-validator` and `mock` (docs/openapi.md).
const unknownOperations = { enum: ['refuse', 'pass'], 'x-message': 'must be refuse (404 operation-not-found) or pass' };

export const requestValidatorSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** A request that matches no operation of the document: 404, or forwarded unchecked. */
    unknown_operations: unknownOperations,
    /** Largest JSON body checked; a larger one is refused with 413. */
    max_body_bytes: { type: 'integer', minimum: 0, maximum: 67108864 },
    /** Deepest nesting of arrays and objects in a JSON body; deeper is refused before parsing. */
    max_depth: { type: 'integer', minimum: 1, maximum: 1000 },
    /** Responses: not checked, checked and reported (metric, sampled log), or refused with 502 when their status or media type is not described. */
    responses: { enum: ['off', 'report', 'enforce'], 'x-message': 'must be off, report or enforce' },
    /** Largest response body checked against its schema (a larger one is not checked). */
    max_response_bytes: { type: 'integer', minimum: 0, maximum: 67108864 },
    /** Share of violations written to the process log (all are counted). */
    log_sample: { type: 'number', minimum: 0, maximum: 1 },
  },
};

export interface RequestValidatorConfig {
  unknown_operations?: 'refuse' | 'pass';
  max_body_bytes?: number;
  max_depth?: number;
  responses?: 'off' | 'report' | 'enforce';
  max_response_bytes?: number;
  log_sample?: number;
}

export const mockSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** A request that matches no operation: 404, or forwarded to the upstream. */
    unknown_operations: unknownOperations,
    /** Honour the client's `Prefer: code=…, example=…` (on by default). */
    prefer: { type: 'boolean' },
  },
};

export interface MockConfig {
  unknown_operations?: 'refuse' | 'pass';
  prefer?: boolean;
}
