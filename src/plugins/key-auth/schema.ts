const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", 'x-message': 'must be a header / query parameter name' };

export const keyAuthSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Header and query-parameter names that may carry the key, tried in this order. */
    key_names: { type: 'array', minItems: 1, items: headerName },
    in: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['header', 'query'] } },
    /** Remove the key from what the upstream receives. */
    hide_credentials: { type: 'boolean' },
    realm: { type: 'string', pattern: '^[^"\\\\\\u0000-\\u001f]*$', 'x-message': 'must not contain quotes, backslashes or control characters' },
  },
};

export interface KeyAuthConfig {
  key_names?: string[];
  in?: Array<'header' | 'query'>;
  hide_credentials?: boolean;
  realm?: string;
}
