// A flat, ordered header list [name, value, name, value, ...]: the shape node:http's
// rawHeaders, undici's request headers and writeHead() all accept, so headers cross the
// proxy without being turned into objects. Names keep their case; lookups ignore it.

export class HeaderList {
  readonly raw: string[];

  constructor(raw: string[] = []) {
    this.raw = raw;
  }

  get(name: string): string | undefined {
    const raw = this.raw;
    const lname = name.toLowerCase();
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (sameName(n, lname)) return raw[i + 1];
    }
    return undefined;
  }

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

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

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

  get size(): number {
    return this.raw.length >> 1;
  }
}

/** Whether header name `n` is `lname` (lower case) in any case; a lower-case name matches without a copy. */
function sameName(n: string, lname: string): boolean {
  return n.length === lname.length && (n === lname || n.toLowerCase() === lname);
}
