// The Gateway API's HTTPPathModifier, shared by `redirect` (the Location's path) and
// `rewrite` (the upstream's path): replace the whole path, or only the prefix the route
// matched. Compiled once per plugin instance; applying it is string slicing.

/** `replace_full` or `replace_prefix`, exactly one (the schema below says so). */
export interface PathModifierConfig {
  replace_full?: string;
  replace_prefix?: string;
}

/**
 * A replacement path: absolute, in its normalized spelling (no `.`/`..` segments, no
 * repeated slashes, no backslash, `;`, `%`, query or fragment, visible ASCII only), so that
 * what the plugin writes can neither climb out of the upstream's base path nor be read as
 * another path by an upstream that decodes escapes or drops `;params`. `replace_prefix` may also be "" (the prefix is removed).
 */
const REPLACEMENT = '^(?:/|(?:/(?!\\.\\.?(?:/|$))[A-Za-z0-9\\-._~!$&\'()*+,=:@]+)+/?)$';

export const pathModifierSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  'x-message': 'needs exactly one of replace_full, replace_prefix',
  properties: {
    replace_full: { type: 'string', pattern: REPLACEMENT, 'x-message': 'must be an absolute, normalized path (no "." or ".." segments, "//", "\\", ";", "%", "?", "#", spaces or control characters)' },
    replace_prefix: { type: 'string', pattern: `${REPLACEMENT}|^$`, 'x-message': 'must be "" or an absolute, normalized path (no "." or ".." segments, "//", "\\", ";", "%", "?", "#", spaces or control characters)' },
  },
});

/** The path a request gets: `(path, matchLength)` → new path (always starting with "/"). */
export type PathModifier = (path: string, matchLength: number) => string;

/** Compiles a path modifier config. */
export function compilePathModifier(config: PathModifierConfig): PathModifier {
  if (config.replace_full !== undefined) {
    const full = config.replace_full;
    return () => full;
  }
  // A replacement's trailing slash is not doubled: "/xyz/" and "/xyz" give the same paths.
  const replacement = trimSlash(config.replace_prefix!);
  return (path, matchLength) => replacePrefix(path, matchLength, replacement);
}

/**
 * ReplacePrefixMatch: the matched prefix (on segment boundaries, without its trailing
 * slash) is replaced, the rest of the path is kept: `/foo` → `/xyz` turns `/foo/bar` into
 * `/xyz/bar`, `/foo/` into `/xyz/`, `/foo` into `/xyz`; with `/` or "" as the replacement,
 * `/foo/bar` becomes `/bar` and `/foo` becomes `/`.
 */
export function replacePrefix(path: string, matchLength: number, replacement: string): string {
  let cut = matchLength;
  // A prefix matched with its slash ("/foo/" on "/foo/bar") keeps that slash in the rest.
  if (cut > 0 && path.charCodeAt(cut - 1) === 47) cut--;
  let rest = path.slice(cut);
  // A regex route's match may end inside a segment: the rest still starts a segment.
  if (rest !== '' && rest.charCodeAt(0) !== 47) rest = '/' + rest;
  const out = replacement + rest;
  return out === '' ? '/' : out;
}

function trimSlash(p: string): string {
  return p.endsWith('/') ? p.slice(0, -1) : p;
}
