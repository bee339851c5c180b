// The nesting depth of a JSON text, read byte by byte without parsing: a body nested deeper
// than the bound is refused before JSON.parse or a schema check recurse through it.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether `body` nests arrays and objects deeper than `max` (strings skipped). */
export function deeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
