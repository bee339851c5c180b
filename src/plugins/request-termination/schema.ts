const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" };
const headerValue = { type: 'string', pattern: '^[^\\r\\n\\u0000]*$', 'x-message': 'must not contain CR, LF or NUL' };

export const requestTerminationSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'integer', minimum: 200, maximum: 599 },
    /** A string is sent as is; any other JSON value is sent JSON-encoded. */
    body: { type: ['string', 'object', 'array', 'number', 'boolean'] },
    content_type: headerValue,
    headers: { type: 'object', propertyNames: headerName, additionalProperties: headerValue },
  },
};

export interface RequestTerminationConfig {
  status?: number;
  body?: unknown;
  content_type?: string;
  headers?: Record<string, string>;
}
