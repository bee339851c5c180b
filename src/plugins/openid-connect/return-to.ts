// Where a browser goes after signing in: only a path of this site. A value an attacker could
// choose (the path of the request that led to the sign-in, or ?return_to= of the login path)
// must not become a redirect to another site: `//evil`, `/\evil`, `https:…`, control
// characters, and their percent-encoded forms are all refused. A refused value returns "/".

/** A same-origin absolute path with no authority, no backslash, no whitespace or control character. */
const SAFE = /^\/(?![/\\])[^\\\x00-\x20\x7f]*$/;
/** A decoded form may hold spaces; it must still start with one slash and hold no control character. */
const SAFE_DECODED = /^\/(?![/\\])[^\x00-\x1f\x7f]*$/;
const MAX_LENGTH = 2048;

/** `candidate` when it is a safe local path (in every decoding), else null. */
export function safeReturnPath(candidate: string): string | null {
  if (candidate.length > MAX_LENGTH || !SAFE.test(candidate)) return null;
  // Decoded up to three times: an application behind may decode what it is given again.
  let text = candidate;
  for (let i = 0; i < 3; i++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      return null;
    }
    if (decoded === text) break;
    if (!SAFE_DECODED.test(decoded)) return null;
    text = decoded;
  }
  // Last word to the URL parser: resolved against an origin, the path must stay on it.
  const base = 'http://northgate.invalid';
  const u = new URL(candidate, base);
  return u.origin === base ? candidate : null;
}
