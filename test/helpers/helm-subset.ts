// Renders the Helm chart's templates for the deploy test, without helm: it implements only
// the few template actions the chart uses — `{{ .Values.a.b }}`, `.Release.Name`,
// `.Release.Namespace`, `.Chart.*`, `if` / `else` / `end` with `not`, `| quote`,
// `toYaml X | nindent N`, and `{{-` / `-}}` whitespace trimming, with Go template
// truthiness — and refuses anything else, and any value that is missing, so a template the
// test renders is one this subset fully understands; a chart that grows beyond it fails
// the test until the renderer (or `helm template` in CI) covers it.
import { stringify } from 'yaml';

export interface HelmContext {
  readonly Values: Record<string, unknown>;
  readonly Release: { readonly Name: string; readonly Namespace: string };
  readonly Chart: Record<string, unknown>;
}

interface Token {
  readonly text: string;
  readonly action: string | null;
}

function tokenize(template: string): Token[] {
  const out: Token[] = [];
  const re = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/gs;
  let at = 0;
  let trimNext = false;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    let text = template.slice(at, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1] === '-') text = text.replace(/\s+$/, '');
    out.push({ text, action: null }, { text: '', action: m[2]! });
    trimNext = m[3] === '-';
    at = m.index + m[0].length;
  }
  let rest = template.slice(at);
  if (trimNext) rest = rest.replace(/^\s+/, '');
  out.push({ text: rest, action: null });
  return out;
}

const truthy = (v: unknown): boolean => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

function lookup(ctx: HelmContext, ref: string): unknown {
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(ref)) throw new Error(`unsupported template term "${ref}"`);
  let v: unknown = ctx;
  for (const part of ref.slice(1).split('.')) {
    if (typeof v !== 'object' || v === null || !(part in v)) throw new Error(`no value for ${ref}`);
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function evaluate(ctx: HelmContext, expr: string): unknown {
  const [head, ...pipes] = expr.split('|').map((s) => s.trim());
  const words = head!.split(/\s+/);
  let v: unknown;
  if (words[0] === 'not' && words.length === 2) v = !truthy(lookup(ctx, words[1]!));
  else if (words[0] === 'toYaml' && words.length === 2) v = stringify(lookup(ctx, words[1]!)).trimEnd();
  else if (words.length === 1) v = lookup(ctx, words[0]!);
  else throw new Error(`unsupported template action "${expr}"`);
  for (const p of pipes) {
    const [fn, arg] = p.split(/\s+/);
    if (fn === 'quote') v = JSON.stringify(String(v));
    else if (fn === 'nindent' && /^\d+$/.test(arg ?? '')) v = '\n' + String(v).split('\n').map((l) => ' '.repeat(Number(arg)) + l).join('\n');
    else throw new Error(`unsupported template function "${p}"`);
  }
  return v;
}

export function renderTemplate(template: string, ctx: HelmContext): string {
  let out = '';
  /** One entry per open `if`: whether its current branch is emitted. */
  const stack: Array<{ on: boolean; taken: boolean }> = [];
  const emitting = () => stack.every((s) => s.on);
  for (const t of tokenize(template)) {
    if (t.action === null) {
      if (emitting()) out += t.text;
      continue;
    }
    const a = t.action;
    if (a.startsWith('if ')) {
      const on = emitting() && truthy(evaluate(ctx, a.slice(3)));
      stack.push({ on, taken: on });
    } else if (a === 'else') {
      const top = stack.at(-1);
      if (top === undefined) throw new Error('else without if');
      top.on = !top.taken;
      top.taken = true;
    } else if (a === 'end') {
      if (stack.pop() === undefined) throw new Error('end without if');
    } else if (emitting()) {
      const v = evaluate(ctx, a);
      if (typeof v === 'object' && v !== null) throw new Error(`"${a}" is an object; use toYaml`);
      out += String(v);
    }
  }
  if (stack.length > 0) throw new Error('if without end');
  return out;
}
