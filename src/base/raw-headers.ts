// Request headers read from the raw [name, value, …] list. Asking for `headers` (or the
// context for one header) makes both engines build the whole headers object of the request;
// code on the request path that reads one to three headers scans the (short) raw list instead.

/** The first value of header `lower` (its name in lower case): as node keeps a singleton such as Content-Type. */
export function firstHeader(raw: readonly string[], lower: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lower.length && (name === lower || name.toLowerCase() === lower)) return raw[i + 1];
  }
  return undefined;
}

/** Whether header `lower` (its name in lower case) is in the list at all. */
export function hasHeader(raw: readonly string[], lower: string): boolean {
  return firstHeader(raw, lower) !== undefined;
}

/** Every value of header `lower` joined with ", " (as `PluginContext.header` gives a list header such as Accept). */
export function joinedHeader(raw: readonly string[], lower: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lower.length && (name === lower || name.toLowerCase() === lower)) out = out === undefined ? raw[i + 1] : `${out}, ${raw[i + 1]}`;
  }
  return out;
}

/** Whether header `a` or `b` (names in lower case) is in the list: one pass, for the common case of neither. */
export function hasEitherHeader(raw: readonly string[], a: string, b: string): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== a.length && name.length !== b.length) continue;
    if (name === a || name === b) return true;
    const lower = name.toLowerCase();
    if (lower === a || lower === b) return true;
  }
  return false;
}
