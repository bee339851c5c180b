const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" };
const headerValue = { type: 'string', pattern: '^[^\\r\\n\\u0000]*$', 'x-message': 'must not contain CR, LF or NUL' };

const edits = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Appended, keeping values already there. */
    add: { type: 'object', propertyNames: headerName, additionalProperties: { anyOf: [headerValue, { type: 'array', items: headerValue }] } },
    /** Replaces every existing value. */
    set: { type: 'object', propertyNames: headerName, additionalProperties: headerValue },
    remove: { type: 'array', items: headerName },
  },
};

export const headersSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { request: edits, response: edits },
};

export interface HeaderEdits {
  add?: Record<string, string | string[]>;
  set?: Record<string, string>;
  remove?: string[];
}

export interface HeadersConfig {
  request?: HeaderEdits;
  response?: HeaderEdits;
}
