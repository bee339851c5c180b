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
