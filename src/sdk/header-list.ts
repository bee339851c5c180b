// A flat, ordered header list [name, value, name, value, ...]: the shape node:http's
// rawHeaders, undici's request headers and writeHead() all accept, so headers cross the
// proxy without being turned into objects. Names keep their case; lookups ignore it.

export class HeaderList {
  /** The list itself; edits to it are edits to the headers. */
  readonly raw: string[];

  /** Wraps `raw` (not copied). */
  constructor(raw: string[] = []) {
    this.raw = raw;
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const raw = this.raw;
    const lname = name.toLowerCase();
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (sameName(n, lname)) return raw[i + 1];
    }
    return undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const raw = this.raw;
    const lname = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (sameName(n, lname)) out.push(raw[i + 1]!);
    }
    return out;
  }

  /** Whether `name` is present. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds one more field (the others with that name stay). */
  append(name: string, value: string): void {
    this.raw.push(name, value);
  }

  /** Replaces every value of `name` with one value. */
  set(name: string, value: string): void {
    this.remove(name);
    this.raw.push(name, value);
  }

  /** set() for a name given in lower case (a constant): no case conversion of it per call. */
  setLowerCase(lname: string, value: string): void {
    this.removeLowerCase(lname);
    this.raw.push(lname, value);
  }

  /** Removes every field named `name`. */
  remove(name: string): void {
    this.removeLowerCase(name.toLowerCase());
  }

  /** remove() for a name given in lower case. */
  removeLowerCase(lname: string): void {
    const raw = this.raw;
    let w = 0;
    for (let r = 0; r < raw.length; r += 2) {
      const n = raw[r]!;
      if (sameName(n, lname)) continue;
      if (w !== r) {
        raw[w] = n;
        raw[w + 1] = raw[r + 1]!;
      }
      w += 2;
    }
    // Setting an array's length is a runtime call even when it does not change.
    if (w !== raw.length) raw.length = w;
  }

  /** The number of fields. */
  get size(): number {
    return this.raw.length >> 1;
  }
}

/** Whether header name `n` is `lname` (lower case) in any case; a lower-case name matches without a copy. */
function sameName(n: string, lname: string): boolean {
  return n.length === lname.length && (n === lname || n.toLowerCase() === lname);
}

/** Adds `token` to the Vary field (one field, comma-joined) unless it or `*` is already listed. */
export function addVary(headers: HeaderList, token: string): void {
  const current = headers.getAll('vary').join(', ');
  if (current === '') return headers.append('Vary', token);
  const lower = token.toLowerCase();
  for (const v of current.split(',')) {
    const t = v.trim().toLowerCase();
    if (t === '*' || t === lower) return;
  }
  headers.set('Vary', `${current}, ${token}`);
}
