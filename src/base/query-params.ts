// Query-string parameter names as the gateway compares them: decoded the way URLSearchParams
// decodes them ("+" is a space, percent-escapes are undone), in lower case. Shared by
// key-auth's hide_credentials and the access log's redaction, so that both see `api%6Bey`
// and `APIKEY` as the parameter `apikey`.

/** The name of one `name=value` pair of a query string (without "?"), decoded, in lower case. */
export function paramName(pair: string): string {
  const eq = pair.indexOf('=');
  const raw = (eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/**
 * The first value of each parameter of a query string (with or without its "?"), names and
 * values decoded as URLSearchParams decodes them but with names kept in their case. An
 * escape that is not UTF-8 is left as written. Parameters after the first 256 are not read.
 */
export function firstQueryValues(query: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = query.charCodeAt(0) === 63 /* ? */ ? query.slice(1) : query;
  if (text === '') return out;
  let start = 0;
  for (let n = 0; n < MAX_QUERY_PARAMS && start <= text.length; n++) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    if (end > start) {
      const pair = text.slice(start, end);
      const eq = pair.indexOf('=');
      const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
      if (!out.has(name)) out.set(name, eq === -1 ? '' : decodeComponent(pair.slice(eq + 1)));
    }
    start = end + 1;
  }
  return out;
}

/** Bounds the work a request with a very long query string can cause. */
const MAX_QUERY_PARAMS = 256;

function decodeComponent(raw: string): string {
  const spaced = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
