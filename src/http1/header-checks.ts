// The checks every header name and value of a head goes through, as loops over a lookup
// table instead of regular expressions: a head has a dozen fields each way, and a RegExp
// test costs a builtin call and a match setup per field, several times the loop on names and
// values this short. Same rules as node's checkIsHttpToken and checkInvalidHeaderChar.

/** RFC 9110 tchar: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = TCHAR[c + 32] = 1;

/** A non-empty HTTP token (a header name, a method). */
export function isToken(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** A field value without CR, LF, NUL or another control byte (HTAB allowed), nor a character above 0xff. */
export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 32 ? c !== 9 : c === 127 || c > 255) return false;
  }
  return true;
}
