// JSON paths for body edits: `user.name`, `items[0].id`, `["odd.key"].x`, `a[2][1]`.
// A path is parsed once at load into steps: a string is an object member, a number an
// array index. Edits that do not fit the document (a missing parent, an index past the end,
// a member of a non-object) are skipped, never an error.

export type Step = string | number;

/** Parses a path; a string result is the problem. */
export function parseJsonPath(text: string): Step[] | string {
  const steps: Step[] = [];
  let i = 0;
  const n = text.length;
  if (n === 0) return 'an empty path';
  let expectName = true;
  while (i < n) {
    const c = text[i]!;
    if (c === '[') {
      const close = text.indexOf(']', i);
      if (close === -1) return `"[" at ${i} is not closed`;
      const inner = text.slice(i + 1, close);
      if (/^[0-9]+$/.test(inner)) {
        if (inner.length > 9) return `index ${inner} is too large`;
        steps.push(Number(inner));
      } else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) {
        steps.push(JSON.parse(inner) as string);
      } else return `[${inner}] must be an index [0] or a quoted name ["name"]`;
      i = close + 1;
      expectName = false;
    } else if (c === '.') {
      if (expectName) return `an empty name at ${i}`;
      i++;
      expectName = true;
      if (i === n) return 'the path ends with "."';
    } else {
      if (!expectName) return `"." or "[" expected at ${i}`;
      let j = i;
      while (j < n && text[j] !== '.' && text[j] !== '[') j++;
      const name = text.slice(i, j);
      if (name.includes(']') || name.includes('"')) return `"${name}": quote names with special characters as ["name"]`;
      steps.push(name);
      i = j;
      expectName = false;
    }
  }
  return steps;
}

type Container = Record<string, unknown> | unknown[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The container holding the last step, creating missing objects on the way when `create`. */
function parentOf(doc: unknown, steps: readonly Step[], create: boolean): Container | undefined {
  let cur: unknown = doc;
  for (let i = 0; i < steps.length - 1; i++) {
    const s = steps[i]!;
    let next: unknown;
    if (typeof s === 'number') {
      if (!Array.isArray(cur)) return undefined;
      next = cur[s];
    } else {
      if (!isObject(cur)) return undefined;
      next = Object.prototype.hasOwnProperty.call(cur, s) ? cur[s] : undefined;
      if (next === undefined && create && typeof steps[i + 1] === 'string') {
        next = {};
        cur[s] = next;
      }
    }
    if (typeof next !== 'object' || next === null) return undefined;
    cur = next;
  }
  return cur as Container;
}

export function getAt(doc: unknown, steps: readonly Step[]): { found: boolean; value: unknown } {
  const parent = parentOf(doc, steps, false);
  const last = steps[steps.length - 1]!;
  if (parent === undefined) return { found: false, value: undefined };
  if (typeof last === 'number') return Array.isArray(parent) && last < parent.length ? { found: true, value: parent[last] } : { found: false, value: undefined };
  return isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last) ? { found: true, value: parent[last] } : { found: false, value: undefined };
}

/** Sets a value; an index may replace an element or append at exactly the array's length. */
export function setAt(doc: unknown, steps: readonly Step[], value: unknown): boolean {
  const parent = parentOf(doc, steps, true);
  const last = steps[steps.length - 1]!;
  if (parent === undefined) return false;
  if (typeof last === 'number') {
    if (!Array.isArray(parent) || last > parent.length) return false;
    parent[last] = value;
    return true;
  }
  if (!isObject(parent)) return false;
  // A member named __proto__ is an own property, never the prototype.
  Object.defineProperty(parent, last, { value, writable: true, enumerable: true, configurable: true });
  return true;
}

/** Removes a member, or an array element (the later elements move down). */
export function removeAt(doc: unknown, steps: readonly Step[]): boolean {
  const parent = parentOf(doc, steps, false);
  const last = steps[steps.length - 1]!;
  if (parent === undefined) return false;
  if (typeof last === 'number') {
    if (!Array.isArray(parent) || last >= parent.length) return false;
    parent.splice(last, 1);
    return true;
  }
  if (!isObject(parent) || !Object.prototype.hasOwnProperty.call(parent, last)) return false;
  delete parent[last];
  return true;
}

export interface JsonEdits {
  readonly remove: ReadonlyArray<readonly Step[]>;
  readonly rename: ReadonlyArray<readonly [from: readonly Step[], to: readonly Step[]]>;
  readonly set: ReadonlyArray<readonly [path: readonly Step[], value: unknown]>;
}

/** remove → rename → set, in that order; set values are deep-copied so requests never share them. */
export function applyEdits(doc: unknown, e: JsonEdits): void {
  for (const p of e.remove) removeAt(doc, p);
  for (const [from, to] of e.rename) {
    const got = getAt(doc, from);
    if (!got.found) continue;
    removeAt(doc, from);
    setAt(doc, to, got.value);
  }
  for (const [p, v] of e.set) setAt(doc, p, typeof v === 'object' && v !== null ? structuredClone(v) : v);
}
