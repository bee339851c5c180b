// The request path in the one form the router matches and the upstream receives. Upstream
// frameworks read paths in many lenient ways (Tomcat drops ";params", IIS takes "\" for
// "/", Windows trims trailing dots and spaces, some decode twice or fold fullwidth letters
// to ASCII); a path one of them could read differently from the router is refused, the
// rest is brought to one spelling. docs/routing.md, "Path normalization", is the policy.

export interface PathPolicy {
  /** `%2F`: refused, or kept as data inside a segment. */
  readonly escapedSlashes: 'reject' | 'keep';
  /** `;params` in a segment: refused, or dropped before routing and forwarding (`%3B` is refused either way). */
  readonly semicolons: 'reject' | 'strip';
}

export const DEFAULT_PATH_POLICY: PathPolicy = { escapedSlashes: 'reject', semicolons: 'reject' };

/**
 * Whether a path may need work: any escape, backslash, "#", ";", control, space or
 * non-ASCII character, "//", "/." or a segment ending in ".". A path without them (nearly
 * every path) is already normal: one scan, no allocation.
 */
const NEEDS_NORMALIZING = /[%\\#;\x00-\x20\x7f-\uffff]|\/[./]|\.(?:\/|$)/;

export function needsNormalizing(path: string): boolean {
  return NEEDS_NORMALIZING.test(path);
}

const HEX = /^[0-9A-Fa-f]{2}$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HAS_ASCII = /[\x00-\x7f]/;
const COMBINING_START = /^\p{M}/u;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The normalized path (it starts with "/"), or why it is refused (a message that does
 * not). Decodes escapes of unreserved characters (RFC 3986 6.2.2.2), upper-cases the
 * others, merges repeated slashes; refuses what upstreams read differently.
 */
export function normalizePath(path: string, policy: PathPolicy = DEFAULT_PATH_POLICY): string {
  let out = '';
  let segStart = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 47 /* / */) {
      const bad = segmentProblem(out, segStart);
      if (bad !== null) return bad;
      if (out.endsWith('/')) continue;
      out += '/';
      segStart = out.length;
    } else if (c === 37 /* % */) {
      const hex = path.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return 'request path has a malformed percent-escape';
      const code = Number.parseInt(hex, 16);
      if (code < 0x20 || code === 0x7f) return 'request path has an encoded control character';
      if (code >= 0x80) {
        // The whole run of escaped bytes: one or more UTF-8 characters.
        let end = i;
        while (end + 2 < path.length && path.charCodeAt(end) === 37 && HEX.test(path.slice(end + 1, end + 3)) && Number.parseInt(path.slice(end + 1, end + 3), 16) >= 0x80) end += 3;
        const bad = nonAsciiProblem(path.slice(i, end));
        if (bad !== null) return bad;
        out += path.slice(i, end).toUpperCase();
        i = end - 1;
        continue;
      }
      const ch = String.fromCharCode(code);
      if (UNRESERVED.test(ch)) out += ch;
      else if (code === 0x2f && policy.escapedSlashes === 'reject') return 'request path has an encoded slash (%2F)';
      else if (code === 0x5c) return 'request path has an encoded backslash (%5C)';
      // Refused under `semicolons: strip` too: only a raw ";" starts a parameter to strip, and an
      // upstream that decodes before it drops ";params" (Spring) would read /private%3Bx as /private.
      else if (code === 0x3b) return 'request path has an encoded semicolon (%3B)';
      else if (code === 0x25 && HEX.test(path.slice(i + 3, i + 5))) return 'request path is percent-encoded twice (%25XX)';
      else out += `%${hex.toUpperCase()}`;
      i += 2;
    } else if (c === 59 /* ; */) {
      if (policy.semicolons === 'reject') return 'request path has a ;parameter';
      // As servlet containers read it: the parameter ends at the next "/".
      const slash = path.indexOf('/', i);
      i = (slash === -1 ? path.length : slash) - 1;
    } else if (c === 92 /* \ */) {
      return 'request path has a backslash';
    } else if (c === 35 /* # */) {
      return 'request target must not contain a fragment';
    } else if (c <= 0x20 || c >= 0x7f) {
      return 'request path has a raw control, space or non-ASCII character';
    } else {
      out += path[i];
    }
  }
  const bad = segmentProblem(out, segStart);
  if (bad !== null) return bad;
  if (policy.escapedSlashes === 'keep' && out.includes('%2F')) {
    // An upstream that decodes %2F must not see a dot segment or a trailing dot either.
    for (const part of out.replace(/%2F/g, '/').split('/')) {
      const problem = segmentProblem(part, 0);
      if (problem !== null) return problem;
    }
  }
  return out;
}

/** The segment out[from..] just ended: dot segments, trailing dots and edge spaces are read differently upstream. */
function segmentProblem(out: string, from: number): string | null {
  const len = out.length - from;
  if (len === 0) return null;
  const last = out.charCodeAt(out.length - 1);
  if (last === 46 /* . */) return len <= 2 && (len === 1 || out.charCodeAt(from) === 46) ? 'request path has a dot segment (. or ..)' : 'request path has a segment ending in "."';
  if (out.endsWith('%20') || out.startsWith('%20', from)) return 'request path has a segment starting or ending with a space';
  return null;
}

/** Escaped bytes >= 0x80: valid UTF-8 (no overlong forms, no surrogates), and no character an upstream folds to ASCII. */
function nonAsciiProblem(escapes: string): string | null {
  const bytes = new Uint8Array(escapes.length / 3);
  for (let k = 0; k < bytes.length; k++) bytes[k] = Number.parseInt(escapes.slice(k * 3 + 1, k * 3 + 3), 16);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'request path has percent-escapes that are not UTF-8 (or an overlong form)';
  }
  // Fullwidth "ｐ", "／", the long s "ſ", the Kelvin sign, dotless "ı": compatibility
  // normalization or case folding turns them into ASCII, and some upstreams apply them.
  if (HAS_ASCII.test(text.normalize('NFKC')) || HAS_ASCII.test(text.toUpperCase()) || HAS_ASCII.test(text.toLowerCase())) {
    return 'request path has a character that reads as ASCII after Unicode folding';
  }
  // One spelling per character: "e" + U+0301 and "é" are one path to an upstream that
  // normalizes (macOS file systems, NFC-normalizing frameworks). A run starting with a
  // combining mark composes with the ASCII character before it.
  if (COMBINING_START.test(text) || text.normalize('NFC') !== text) return 'request path has characters in decomposed Unicode form (send NFC)';
  return null;
}
