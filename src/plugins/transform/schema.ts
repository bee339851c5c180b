const argName = { type: 'string', minLength: 1, pattern: '^[^&=#\\u0000-\\u001f]+$', 'x-message': 'must not contain &, =, # or control characters' };
const argValue = { type: 'string', pattern: '^[^\\r\\n\\u0000]*$', 'x-message': 'must not contain CR, LF or NUL' };

export const transformSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** The upstream path (after the service's base path), with {param} from the route's :params or regex named groups. */
    path: { type: 'string', minLength: 1 },
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

export interface TransformConfig {
  path?: string;
  query?: {
    remove?: string[];
    set?: Record<string, string>;
    add?: Record<string, string | string[]>;
  };
}
