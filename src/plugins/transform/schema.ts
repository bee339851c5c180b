const argName = { type: 'string', minLength: 1, pattern: '^[^&=#\\u0000-\\u001f]+$', 'x-message': 'must not contain &, =, # or control characters' };
const argValue = { type: 'string', pattern: '^[^\\r\\n\\u0000]*$', 'x-message': 'must not contain CR, LF or NUL' };

const jsonPath = { type: 'string', minLength: 1, maxLength: 512 };
const jsonEdits = {
  type: 'object',
  additionalProperties: false,
  properties: {
    json: {
      type: 'object',
      additionalProperties: false,
      properties: {
        /** path → any JSON value; missing parent objects are created. */
        set: { type: 'object', propertyNames: jsonPath },
        remove: { type: 'array', items: jsonPath },
        /** from path → to path. */
        rename: { type: 'object', propertyNames: jsonPath, additionalProperties: jsonPath },
      },
    },
  },
};

export const transformSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** The upstream path (after the service's base path), with {param} from the route's :params or regex named groups. */
    path: { type: 'string', minLength: 1 },
    /** JSON bodies up to this many bytes are edited; larger ones stream through untouched. */
    max_body: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024 },
    request: jsonEdits,
    response: jsonEdits,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        remove: { type: 'array', items: argName },
        /** Replaces every value the client sent. */
        set: { type: 'object', propertyNames: argName, additionalProperties: argValue },
        /** Appended after the client's arguments. */
        add: { type: 'object', propertyNames: argName, additionalProperties: { anyOf: [argValue, { type: 'array', items: argValue }] } },
      },
    },
  },
};

export interface JsonEditsConfig {
  json?: { set?: Record<string, unknown>; remove?: string[]; rename?: Record<string, string> };
}

export interface TransformConfig {
  max_body?: number;
  request?: JsonEditsConfig;
  response?: JsonEditsConfig;
  path?: string;
  query?: {
    remove?: string[];
    set?: Record<string, string>;
    add?: Record<string, string | string[]>;
  };
}
