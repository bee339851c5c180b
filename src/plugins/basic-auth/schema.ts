export const basicAuthSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    realm: { type: 'string', pattern: '^[^"\\\\\\u0000-\\u001f]*$', 'x-message': 'must not contain quotes, backslashes or control characters' },
    /** Remove the Authorization header from what the upstream receives. */
    hide_credentials: { type: 'boolean' },
  },
};

export interface BasicAuthConfig {
  realm?: string;
  hide_credentials?: boolean;
}
