// The JSON Schema pieces every schema that names HTTP things shares (the config's and the
// plugins'), so that a header name means the same everywhere. Exported by the SDK for
// plugins outside the repo.

/** One character of an HTTP token (RFC 9110 5.6.2 tchar), as a regex character class. */
export const HTTP_TOKEN_CHAR = "[!#$%&'*+.^_`|~0-9A-Za-z-]";

/** A whole string that is an HTTP token: a header name, a method (RFC 9110 5.6.2). */
export const HTTP_TOKEN_PATTERN = `^${HTTP_TOKEN_CHAR}+$`;

/** A header name (an HTTP token). */
export const headerNameSchema = Object.freeze({ type: 'string', pattern: HTTP_TOKEN_PATTERN });

/** A header value the gateway may send: no CR, LF or NUL (no header injection). */
export const headerValueSchema = Object.freeze({ type: 'string', pattern: '^[^\\r\\n\\u0000]*$', 'x-message': 'must not contain CR, LF or NUL' });
