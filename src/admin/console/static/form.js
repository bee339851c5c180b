// Forms generated from the JSON schemas the gateway validates with: an object becomes a
// fieldset, a string, number, boolean or enum an input, a list of strings a textarea (one
// per line), a reference to another entity a select; what a form cannot express well
// (alternatives, maps, lists of objects) is edited as JSON. The server's problems land on
// the field whose path is the longest prefix of theirs; the rest are listed above the form.
import { useState } from './vendor/hooks.js';
import { html } from './ui.js';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The server's path spelling (base/problems.ts formatPath): `a.b[0]["x-y"]`. */
export function joinPath(base, key) {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!IDENT.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

const typeOf = (s) => (Array.isArray(s?.type) ? s.type.find((t) => t !== 'null') : s?.type);

/** How a schema is edited. */
export function widget(s) {
  if (s === undefined || s === null) return 'json';
  if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === 'string')) return 'enum';
  if (s.oneOf || s.anyOf || s.allOf || s.$ref) return 'json';
  const t = typeOf(s);
  if (t === 'string') return 'string';
  if (t === 'integer' || t === 'number') return 'number';
  if (t === 'boolean') return 'boolean';
  if (t === 'array' && ['string', 'number', 'integer'].includes(typeOf(s.items)) && !s.items.oneOf) return 'lines';
  if (t === 'object' && s.properties && Object.keys(s.properties).length > 0 && !s.additionalProperties) return 'object';
  return 'json';
}

/** Every path the form renders an input for (to place the server's problems). */
export function fieldPaths(schema, value, base = '', out = []) {
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    const path = joinPath(base, key);
    out.push(path);
    if (widget(s) === 'object') fieldPaths(s, value?.[key] ?? {}, path, out);
  }
  return out;
}

/** Problems by the field they belong to; '' for those no field owns. */
export function placeProblems(problems, paths) {
  const byField = new Map();
  for (const p of problems) {
    const at = p.entity ? '' : paths.filter((f) => p.path === f || p.path.startsWith(`${f}.`) || p.path.startsWith(`${f}[`)).sort((a, b) => b.length - a.length)[0] ?? '';
    byField.set(at, [...(byField.get(at) ?? []), p]);
  }
  return byField;
}

const fieldId = (path) => `f-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`;

function Errors({ id, list }) {
  if (!list || list.length === 0) return null;
  return html`<ul class="field-error" id=${id}>${list.map((p) => html`<li>${p.path && p.path !== '(root)' ? `${p.path}: ` : ''}${p.message}</li>`)}</ul>`;
}

function JsonField({ id, value, onChange, invalid, describedBy, disabled }) {
  const [text, setText] = useState(value === undefined ? '' : JSON.stringify(value, null, 2));
  const [bad, setBad] = useState(null);
  const change = (e) => {
    const t = e.currentTarget.value;
    setText(t);
    if (t.trim() === '') return (setBad(null), onChange(undefined));
    try {
      onChange(JSON.parse(t));
      setBad(null);
    } catch (err) {
      setBad(`not JSON yet: ${err.message}`);
    }
  };
  return html`<textarea id=${id} class="code" rows=${Math.min(12, Math.max(3, text.split('\n').length))} value=${text} onInput=${change} disabled=${disabled}
    aria-invalid=${invalid || bad !== null} aria-describedby=${describedBy}></textarea>${bad && html`<p class="field-hint bad">${bad}</p>`}`;
}

function Field({ name, path, schema, value, onChange, required, problems, options, disabled }) {
  const id = fieldId(path);
  const errs = problems.get(path);
  const errId = errs ? `${id}-err` : undefined;
  const hintId = schema?.description ? `${id}-hint` : undefined;
  const describedBy = [errId, hintId].filter(Boolean).join(' ') || undefined;
  const invalid = errs !== undefined;
  const w = options?.[path] ? 'ref' : widget(schema);
  // The marker is outside the label: the control's name stays the field's name.
  const label = html`<span class="label-row"><label for=${id}>${name}</label>${required ? html`<span class="req" aria-hidden="true">*</span>` : ''}</span>`;
  const hint = schema?.description && html`<p class="field-hint" id=${hintId}>${schema.description}</p>`;
  const common = { id, disabled, 'aria-invalid': invalid, 'aria-describedby': describedBy, 'aria-required': required };
  let input;
  if (w === 'object') {
    return html`<fieldset class=${`nested ${invalid ? 'invalid' : ''}`}><legend>${name}</legend>${hint}<${Errors} id=${errId} list=${errs} />
      <${ObjectFields} schema=${schema} value=${value ?? {}} base=${path} problems=${problems} options=${options} disabled=${disabled}
        onChange=${(v) => onChange(Object.keys(v).length === 0 ? undefined : v)} /></fieldset>`;
  }
  if (w === 'ref') {
    input = html`<select ...${common} value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value || undefined)}>
      <option value="">${required ? 'Choose…' : '(none)'}</option>${options[path].map((o) => html`<option value=${o}>${o}</option>`)}</select>`;
  } else if (w === 'enum') {
    input = html`<select ...${common} value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value || undefined)}>
      <option value="">${required ? 'Choose…' : '(default)'}</option>${schema.enum.map((o) => html`<option value=${o}>${o}</option>`)}</select>`;
  } else if (w === 'string') {
    input = html`<input ...${common} type="text" value=${value ?? ''} onInput=${(e) => onChange(e.currentTarget.value === '' ? undefined : e.currentTarget.value)} />`;
  } else if (w === 'number') {
    input = html`<input ...${common} type="number" step=${typeOf(schema) === 'integer' ? 1 : 'any'} value=${value ?? ''}
      onInput=${(e) => onChange(e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))} />`;
  } else if (w === 'boolean') {
    return html`<div class="field check"><input ...${common} type="checkbox" checked=${value === true} onChange=${(e) => onChange(e.currentTarget.checked)} />
      ${label}${hint}<${Errors} id=${errId} list=${errs} /></div>`;
  } else if (w === 'lines') {
    const numeric = typeOf(schema.items) !== 'string';
    input = html`<textarea ...${common} rows="3" value=${(value ?? []).join('\n')}
      onInput=${(e) => {
        const lines = e.currentTarget.value.split('\n').map((l) => l.trim()).filter((l) => l !== '');
        onChange(lines.length === 0 ? undefined : numeric ? lines.map(Number) : lines);
      }}></textarea><p class="field-hint">One per line.</p>`;
  } else {
    input = html`<${JsonField} id=${id} value=${value} onChange=${onChange} invalid=${invalid} describedBy=${describedBy} disabled=${disabled} /><p class="field-hint">JSON.</p>`;
  }
  return html`<div class=${`field ${invalid ? 'invalid' : ''}`}>${label}${input}${hint}<${Errors} id=${errId} list=${errs} /></div>`;
}

/** The properties of an object schema: the kind's usual ones, required and filled-in ones first, the rest folded away. */
export function ObjectFields({ schema, value, onChange, base = '', problems, options, disabled, primary = [] }) {
  const required = new Set(schema.required ?? []);
  const keys = Object.keys(schema.properties ?? {});
  const first = (k) => required.has(k) || primary.includes(k) || value[k] !== undefined || options?.[joinPath(base, k)] || [...problems.keys()].some((p) => p.startsWith(joinPath(base, k)));
  const shown = [...primary.filter((k) => keys.includes(k)), ...keys.filter((k) => !primary.includes(k) && first(k))];
  const folded = keys.filter((k) => !shown.includes(k));
  const set = (k) => (v) => {
    const next = { ...value };
    if (v === undefined) delete next[k];
    else next[k] = v;
    onChange(next);
  };
  const field = (k) => html`<${Field} key=${k} name=${k} path=${joinPath(base, k)} schema=${schema.properties[k]} value=${value[k]} onChange=${set(k)}
    required=${required.has(k)} problems=${problems} options=${options} disabled=${disabled} />`;
  return html`${shown.map(field)}${folded.length > 0 && html`<details class="more"><summary>${folded.length} more field${folded.length === 1 ? '' : 's'}${base ? ` of ${base}` : ''}</summary>${folded.map(field)}</details>`}`;
}
