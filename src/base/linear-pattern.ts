// Which patterns a backtracking engine (V8's RegExp) provably runs in time linear in the
// input, so that they may skip RE2: calling into RE2 costs a native call and a UTF-8 copy of
// the input per match, several times the match itself for a short value (a schema `pattern`
// of a JSON field). The check is syntactic and conservative: it accepts only a flat sequence
// anchored at the start,
//
//   ^ item item … [$]     item = atom [quantifier]
//   atom = a literal, an escape (\d \D \w \W \s \S, \t \n \v \f \r \0, \xHH, \uHHHH,
//          \u{H…}, an escaped syntax character), `.`, or a class [...] / [^...] of those
//   quantifier = * + ? {n} {n,} {n,m} (greedy)
//
// under the `u` flag alone (code points, as ajv compiles schema patterns), with no group,
// alternation, lookaround, backreference or word boundary,
// and one rule: an item that may repeat a variable number of times has a character set
// disjoint from every character that can come next (the items after it, up to and including
// the first one that must match). Then at each choice point one character decides the
// branch: a backtracking step into a quantifier fails at once on the next item, so each
// character is tried a bounded number of times. `^\d+\d+$`, `^.*x`, `^[a-z]+[a-z0-9]*$`,
// `(a+)+` and an unanchored `a+b` (tried again from every start) are refused; anything
// refused runs on RE2 as before.

/** A set of code points: sorted, disjoint, non-adjacent [from, to] ranges. */
type CharSet = Array<[number, number]>;

interface Item {
  readonly set: CharSet;
  readonly min: number;
  readonly max: number;
}

const MAX_CODE_POINT = 0x10ffff;
/** Longer patterns are left to RE2 (the check is linear, but nothing that long needs the shortcut). */
const MAX_SOURCE = 1000;
/** Bigger counts in {n,m} are left to RE2. */
const MAX_COUNT = 1000;

const DIGIT: CharSet = [[0x30, 0x39]];
const WORD: CharSet = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
/** ECMAScript's WhiteSpace and LineTerminator (what `\s` matches). */
const SPACE: CharSet = normalize([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
/** What `.` matches without the `s` flag: all but the line terminators. */
const DOT: CharSet = complement(normalize([
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
]));
const SYNTAX = '^$\\.*+?()[]{}|/';
const CONTROL: Record<string, number> = { t: 0x09, n: 0x0a, v: 0x0b, f: 0x0c, r: 0x0d };

function normalize(ranges: CharSet): CharSet {
  const sorted = ranges.slice().sort((a, b) => a[0] - b[0]);
  const out: CharSet = [];
  for (const [from, to] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

function complement(set: CharSet): CharSet {
  const out: CharSet = [];
  let next = 0;
  for (const [from, to] of set) {
    if (from > next) out.push([next, from - 1]);
    next = to + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function overlaps(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x[1] < y[0]) i++;
    else if (y[1] < x[0]) j++;
    else return true;
  }
  return false;
}

/** Thrown inside the parser for anything outside the accepted subset. */
class Unsupported extends Error {}
const unsupported = (): never => {
  throw new Unsupported();
};

class Parser {
  readonly #s: string;
  pos = 0;
  constructor(source: string) {
    this.#s = source;
  }
  get done(): boolean {
    return this.pos >= this.#s.length;
  }
  peek(): string {
    return this.#s[this.pos] ?? '';
  }
  /** The next code point (a surrogate pair is one, as under the `u` flag). */
  codePoint(): number {
    const c = this.#s.codePointAt(this.pos);
    if (c === undefined) return unsupported();
    this.pos += c > 0xffff ? 2 : 1;
    return c;
  }
  hex(digits: number): number {
    const text = this.#s.slice(this.pos, this.pos + digits);
    if (text.length !== digits || !/^[0-9A-Fa-f]+$/.test(text)) return unsupported();
    this.pos += digits;
    return parseInt(text, 16);
  }
  /** After a backslash: a single code point or a class escape's set. */
  escape(inClass: boolean): number | CharSet {
    const c = this.#s[this.pos++] ?? '';
    switch (c) {
      case 'd':
        return DIGIT;
      case 'D':
        return complement(DIGIT);
      case 'w':
        return WORD;
      case 'W':
        return complement(WORD);
      case 's':
        return SPACE;
      case 'S':
        return complement(SPACE);
      case 'x':
        return this.hex(2);
      case 'u': {
        if (this.peek() !== '{') {
          // Under `u` an escaped surrogate pair is one code point: left to RE2.
          const unit = this.hex(4);
          return unit >= 0xd800 && unit <= 0xdfff ? unsupported() : unit;
        }
        const end = this.#s.indexOf('}', this.pos);
        if (end < 0 || end - this.pos > 7) return unsupported();
        this.pos++;
        const value = this.hex(end - this.pos);
        this.pos++;
        return value <= MAX_CODE_POINT ? value : unsupported();
      }
      case '0':
        return /[0-9]/.test(this.peek()) ? unsupported() : 0;
      case '-':
        return inClass ? 0x2d : unsupported();
      default:
        const control = CONTROL[c];
        if (control !== undefined) return control;
        if (c !== '' && SYNTAX.includes(c)) return c.charCodeAt(0);
        // \b \B \1 \k \p \P \c and identity escapes of other characters.
        return unsupported();
    }
  }
  /** A class after its "[": its set. */
  charClass(): CharSet {
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.pos++;
    }
    const ranges: CharSet = [];
    for (;;) {
      if (this.done) return unsupported();
      if (this.peek() === ']') {
        this.pos++;
        break;
      }
      const from = this.classAtom();
      if (this.peek() === '-' && this.#s[this.pos + 1] !== ']' && this.pos + 1 < this.#s.length) {
        this.pos++;
        const to = this.classAtom();
        if (typeof from !== 'number' || typeof to !== 'number' || from > to) return unsupported();
        ranges.push([from, to]);
      } else if (typeof from === 'number') ranges.push([from, from]);
      else ranges.push(...from);
    }
    const set = normalize(ranges);
    return negate ? complement(set) : set;
  }
  classAtom(): number | CharSet {
    const c = this.peek();
    if (c === '\\') {
      this.pos++;
      return this.escape(true);
    }
    // A "[" inside a class is literal under `u` but not under `v`: left to RE2.
    if (c === '[') return unsupported();
    return this.codePoint();
  }
  atom(): CharSet {
    const c = this.peek();
    if (c === '.') {
      this.pos++;
      return DOT;
    }
    if (c === '[') {
      this.pos++;
      return this.charClass();
    }
    if (c === '\\') {
      this.pos++;
      const e = this.escape(false);
      return typeof e === 'number' ? [[e, e]] : e;
    }
    // Groups, alternation, a quantifier with nothing before it, a lone "]" "{" "}", and an
    // anchor anywhere but at the ends.
    if (SYNTAX.includes(c) && c !== '/') return unsupported();
    const cp = this.codePoint();
    return [[cp, cp]];
  }
  count(): number {
    const m = /^[0-9]{1,4}/.exec(this.#s.slice(this.pos, this.pos + 4));
    if (m === null) return unsupported();
    this.pos += m[0].length;
    const n = Number(m[0]);
    return n <= MAX_COUNT ? n : unsupported();
  }
  /** The quantifier after an atom: [min, max] (max Infinity for unbounded). */
  quantifier(): [number, number] {
    const c = this.peek();
    let q: [number, number];
    if (c === '*') q = [0, Infinity];
    else if (c === '+') q = [1, Infinity];
    else if (c === '?') q = [0, 1];
    else if (c === '{') {
      this.pos++;
      const min = this.count();
      let max = min;
      if (this.peek() === ',') {
        this.pos++;
        max = this.peek() === '}' ? Infinity : this.count();
      }
      if (this.peek() !== '}' || max < min) return unsupported();
      q = [min, max];
    } else return [1, 1];
    this.pos++;
    // Lazy, or a quantifier on a quantifier.
    if ('*+?{'.includes(this.peek()) && !this.done) return unsupported();
    return q;
  }
}

/**
 * Whether `source` with `flags` matches in time linear in the input on a backtracking
 * engine, by the rules above; false when in doubt.
 */
export function isLinearPattern(source: string, flags: string): boolean {
  // Without `u` a class holds UTF-16 code units, not the code points compared here.
  if (flags !== 'u') return false;
  if (source.length > MAX_SOURCE || !source.startsWith('^')) return false;
  const items: Item[] = [];
  const p = new Parser(source);
  p.pos = 1;
  try {
    while (!p.done) {
      if (p.peek() === '$') {
        p.pos++;
        // `$` ends the pattern: an item can be followed by nothing else.
        if (!p.done) return false;
        break;
      }
      const set = p.atom();
      const [min, max] = p.quantifier();
      items.push({ set, min, max });
    }
  } catch (err) {
    if (err instanceof Unsupported) return false;
    throw err;
  }
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.max === item.min) continue;
    for (let j = i + 1; j < items.length; j++) {
      const next = items[j]!;
      if (overlaps(item.set, next.set)) return false;
      if (next.min > 0) break;
    }
  }
  return true;
}
