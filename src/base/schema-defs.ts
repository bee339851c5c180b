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

/** A host name (RFC 1123 labels), an IPv4 address or a bracketed IPv6 address, as a regex source without anchors. */
const HOST = '(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])';

/** A host without a port: nothing a URL could read as userinfo, a path or another host. */
export const hostSchema = Object.freeze({ type: 'string', maxLength: 253, pattern: `^${HOST}$`, 'x-message': 'must be a host name or an IP address (no port, path or userinfo)' });

/** A host with an optional port (a Host header's value). */
export const hostPortSchema = Object.freeze({ type: 'string', maxLength: 259, pattern: `^${HOST}(?::[0-9]{1,5})?$`, 'x-message': 'must be a host name or an IP address, with an optional port' });
