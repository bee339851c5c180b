// Entities: a list with search per kind; create and edit through forms generated from the
// gateway's own schemas, with the server's problems on their fields; delete after a
// confirmation that names what depends on the entity. In `mode: file` nothing is written:
// the console shows an entity's YAML and the diff a proposed change would make.
import { useCallback, useEffect, useMemo, useRef, useState } from './vendor/hooks.js';
import { api, ApiError, get } from './api.js';
import { entityKey, focusTitle, fmt, html, Notice, PageHeader } from './ui.js';
import { fieldPaths, ObjectFields, placeProblems } from './form.js';

export const KIND_ORDER = ['services', 'routes', 'upstreams', 'targets', 'consumers', 'credentials', 'plugins', 'plans'];
export const KIND_LABELS = { services: 'Services', routes: 'Routes', upstreams: 'Upstreams', targets: 'Targets', consumers: 'Consumers', credentials: 'Credentials', plugins: 'Plugins', plans: 'Plans' };
/** What a GET shows beyond the body: never sent back from a form. */
const SHOWN_ONLY = ['id', 'version', 'created_at', 'updated_at', 'scope', 'key_prefix', 'key_hash', 'password_set', 'secret_set'];
/** The fields a kind's form shows first (the rest are folded under "more fields"). */
const PRIMARY = {
  services: ['name', 'url', 'upstream'],
  routes: ['service', 'name', 'paths', 'hosts', 'methods', 'strip_path'],
  upstreams: ['name', 'targets'],
  targets: ['upstream', 'url', 'weight'],
  consumers: ['username', 'plan'],
  credentials: ['consumer', 'type'],
  plugins: ['name', 'service', 'route', 'config'],
  plans: ['name', 'rate_limit', 'quota'],
};
/** A credential's stored forms (what a dump holds), not typed in a form. */
const STORED_FORMS = ['key_digest', 'key_prefix', 'password_hash'];

let schemasPromise = null;
const schemas = () => (schemasPromise ??= get('/ui/api/schemas'));
const listOf = async (kind) => (await get(`/${kind}?limit=1000`)).data;

function summary(kind, e) {
  switch (kind) {
    case 'services': return e.url ?? (e.upstream ? `upstream ${e.upstream}` : '');
    case 'routes': return [`service ${e.service}`, ...(e.hosts ?? []), ...(e.methods ?? []), ...(e.paths ?? [])].join(' · ');
    case 'targets': return `weight ${e.weight ?? 100}`;
    case 'consumers': return e.plan ? `plan ${e.plan}` : '';
    case 'credentials': return [e.consumer, e.type, e.key_prefix ? `${e.key_prefix}…` : null].filter(Boolean).join(' · ');
    case 'plugins': return e.scope === 'global' ? 'global' : `${e.scope} ${e.route ?? e.service}`;
    case 'plans': return ['rate_limit', 'quota'].filter((k) => e[k] !== undefined).join(', ');
    default: return '';
  }
}

/** The schema a kind's form edits, given the value so far (a plugin's config follows its name). */
function formSchema(kind, s, value) {
  const base = s.kinds[kind].schema;
  if (kind === 'plugins') {
    const config = s.plugins[value.name] ?? { type: 'object' };
    return { ...base, required: ['name'], properties: { name: { enum: Object.keys(s.plugins).sort() }, service: base.properties.service, route: base.properties.route, config, tags: base.properties.tags } };
  }
  if (kind === 'credentials') {
    const own = s.credentials[value.type]?.properties ?? {};
    const fields = Object.fromEntries(Object.entries(own).filter(([k]) => !STORED_FORMS.includes(k) && k !== 'id'));
    return { type: 'object', required: ['consumer', 'type', ...(s.credentials[value.type]?.required ?? [])], properties: { consumer: { type: 'string' }, type: { enum: Object.keys(s.credentials) }, ...fields, tags: base.properties.tags } };
  }
  return base;
}

/** A panel that opens takes the focus to its heading, so keyboard and screen-reader users land in it. */
function useFocusOnOpen() {
  const done = useRef(false);
  return useCallback((el) => {
    if (el !== null && !done.current) {
      done.current = true;
      el.focus();
    }
  }, []);
}

const bodyOf = (e) => Object.fromEntries(Object.entries(e).filter(([k]) => !SHOWN_ONLY.includes(k)));

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function EntityForm({ kind, s, entity, readOnly, onDone, onCancel }) {
  const [value, setValue] = useState(entity ? bodyOf(entity) : kind === 'credentials' ? { type: 'key-auth' } : {});
  const [problems, setProblems] = useState([]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  // The names a reference field may take; the form waits for them (a reference is a list to pick from).
  const [refs, setRefs] = useState(null);
  const [diff, setDiff] = useState(null);
  const schema = formSchema(kind, s, value);
  useEffect(() => {
    const wanted = kind === 'credentials' ? { consumer: 'consumers' } : s.kinds[kind].refs;
    Promise.all(Object.entries(wanted).map(async ([field, target]) => [field, (await listOf(target)).map((e) => entityKey(target, e))])).then(
      (pairs) => setRefs(Object.fromEntries(pairs)),
      (err) => (setRefs({}), setError(err.message)),
    );
  }, [kind]);
  const placed = useMemo(() => placeProblems(problems, fieldPaths(schema, value)), [problems, schema, value]);
  const heading = useFocusOnOpen();
  if (refs === null) return html`<div class="card entity-form"><p class="muted">Loading the form…</p></div>`;
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    setProblems([]);
    let body = value;
    let shownKey = null;
    if (kind === 'credentials' && value.type === 'key-auth' && !value.key && !entity) body = { ...value, key: (shownKey = newKey()) };
    try {
      if (readOnly) setDiff(await api('POST', '/ui/api/diff', { kind, id: entity.id, body }));
      else {
        const saved = entity ? await api('PUT', `/${kind}/${encodeURIComponent(entity.id)}`, body) : await api('POST', `/${kind}`, body);
        onDone(saved, shownKey ?? (kind === 'credentials' && !entity ? value.key ?? null : null));
      }
    } catch (err) {
      if (err instanceof ApiError && err.problems.length > 0) setProblems(err.problems);
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const unplaced = placed.get('') ?? [];
  const title = `${entity ? (readOnly ? 'Propose a change to' : 'Edit') : 'New'} ${s.kinds[kind].singular}${entity ? ` ${entityKey(kind, entity)}` : ''}`;
  return html`<form class="card entity-form" onSubmit=${submit} noValidate aria-labelledby="form-title">
    <h2 id="form-title" tabindex="-1" ref=${heading}>${title}</h2>
    ${error && html`<${Notice} kind="error">${error}${unplaced.length > 0 && html`<ul>${unplaced.map((p) => html`<li>${p.name ? `${p.name}: ` : ''}${p.path && p.path !== '(root)' ? `${p.path}: ` : ''}${p.message}</li>`)}</ul>`}<//>`}
    <${ObjectFields} schema=${schema} value=${value} onChange=${setValue} problems=${placed} options=${refs} primary=${PRIMARY[kind]} />
    ${kind === 'credentials' && value.type === 'key-auth' && !entity && html`<p class="field-hint">Leave the key empty to have one generated; it is shown once, after saving.</p>`}
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy}>${readOnly ? 'Show the diff' : entity ? 'Save' : 'Create'}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
    ${diff && html`<section aria-labelledby="diff-title"><h3 id="diff-title">Diff of the proposed change</h3>
      <p class="muted small">Valid as a change. Apply it to the config file and reload (SIGHUP or --watch).</p>
      <pre class="diff" tabindex="0" aria-label="Diff: lines starting with + are added, with - removed">${diff.diff.map((l) => html`<span class=${l[0] === '+' ? 'add' : l[0] === '-' ? 'del' : ''}>${l}</span>`)}</pre></section>`}
  </form>`;
}

/** What a cascading delete of `entity` takes along: what references it, and so on (each kind listed once). */
async function dependents(s, kind, entity) {
  const lists = new Map();
  const list = (k) => (lists.has(k) ? lists.get(k) : (lists.set(k, listOf(k)), lists.get(k)));
  const found = [];
  const seen = new Set([`${kind}/${entity.id}`]);
  const queue = [[kind, entity]];
  for (let i = 0; i < queue.length && i < 1000; i++) {
    const [k, e] = queue[i];
    const key = entityKey(k, e);
    for (const [userKind, d] of Object.entries(s.kinds)) {
      for (const [field, target] of Object.entries(d.refs)) {
        if (target !== k) continue;
        for (const u of (await list(userKind)).filter((x) => x[field] === key)) {
          if (seen.has(`${userKind}/${u.id}`)) continue;
          seen.add(`${userKind}/${u.id}`);
          found.push(`${s.kinds[userKind].singular} ${entityKey(userKind, u)}`);
          queue.push([userKind, u]);
        }
      }
    }
  }
  return found;
}

function DeleteConfirm({ kind, s, entity, onDone, onCancel }) {
  const [deps, setDeps] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    dependents(s, kind, entity).then(setDeps, (err) => setError(err.message));
  }, [entity]);
  const remove = async () => {
    try {
      await api('DELETE', `/${kind}/${encodeURIComponent(entity.id)}${deps.length > 0 ? '?cascade=true' : ''}`);
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  const name = `${s.kinds[kind].singular} ${entityKey(kind, entity)}`;
  const heading = useFocusOnOpen();
  return html`<div class="card confirm" role="alertdialog" aria-labelledby="confirm-title" aria-describedby="confirm-body">
    <h2 id="confirm-title" tabindex="-1" ref=${heading}>Delete ${name}?</h2>
    <div id="confirm-body">
      ${deps === null ? html`<p class="muted">Looking for what uses it…</p>` : deps.length === 0 ? html`<p>Nothing else uses it.</p>` : html`
        <p>These use it, directly or through each other, and will be deleted with it:</p><ul>${deps.map((d) => html`<li>${d}</li>`)}</ul>`}
    </div>
    ${error && html`<${Notice} kind="error">${error}<//>`}
    <div class="actions">
      <button class="danger" onClick=${remove} disabled=${deps === null}>${deps?.length ? `Delete ${deps.length + 1} entities` : 'Delete'}</button>
      <button onClick=${onCancel}>Cancel</button>
    </div>
  </div>`;
}

export function Entities({ kind, mode }) {
  const readOnly = mode === 'file';
  const [s, setS] = useState(null);
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [search, setSearch] = useState('');
  const [panel, setPanel] = useState(null);
  const [notice, setNotice] = useState(null);
  const reload = () => listOf(kind).then(setRows, (err) => setError(err.message));
  useEffect(() => {
    setRows(null);
    setPanel(null);
    setNotice(null);
    setSearch('');
    schemas().then(setS, (err) => setError(err.message));
    reload();
    focusTitle();
  }, [kind]);
  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (rows ?? []).filter((e) => q === '' || [entityKey(kind, e), summary(kind, e), ...(e.tags ?? [])].some((t) => String(t).toLowerCase().includes(q)));
  }, [rows, search]);
  const showYaml = async (e) => {
    try {
      setPanel({ type: 'yaml', entity: e, yaml: (await get(`/ui/api/yaml?kind=${kind}&id=${encodeURIComponent(e.id)}`)).yaml });
    } catch (err) {
      setError(err.message);
    }
  };
  const label = KIND_LABELS[kind];
  const singular = s?.kinds[kind].singular ?? kind;
  return html`
    <${PageHeader} title=${label}>
      ${!readOnly && s && html`<button class="primary" onClick=${() => (setNotice(null), setPanel({ type: 'form', entity: null }))}>New ${singular}</button>`}
    <//>
    ${readOnly && html`<${Notice}>This node runs with <code>mode: file</code>: the console is read-only. View an entity's YAML, or propose a change to see its diff.<//>`}
    ${error && html`<${Notice} kind="error">${error}<//>`}
    ${notice}
    ${panel?.type === 'form' && s && html`<${EntityForm} key=${panel.entity?.id ?? 'new'} kind=${kind} s=${s} entity=${panel.entity} readOnly=${readOnly}
      onCancel=${() => setPanel(null)}
      onDone=${(saved, key) => {
        setPanel(null);
        reload();
        setNotice(html`<${Notice} kind="ok">${panel.entity ? 'Saved' : 'Created'} ${singular} ${entityKey(kind, saved)}.${key && html`
          <span class="once"> Its key, shown once — copy it now: <code class="secret" data-testid="new-key">${key}</code>
          <button onClick=${() => navigator.clipboard?.writeText(key)}>Copy</button></span>`}<//>`);
      }} />`}
    ${panel?.type === 'delete' && s && html`<${DeleteConfirm} kind=${kind} s=${s} entity=${panel.entity} onCancel=${() => setPanel(null)}
      onDone=${() => (setPanel(null), setNotice(html`<${Notice} kind="ok">Deleted ${singular} ${entityKey(kind, panel.entity)}.<//>`), reload())} />`}
    ${panel?.type === 'yaml' && html`<section class="card" aria-labelledby="yaml-title"><div class="card-head"><h2 id="yaml-title">${singular} ${entityKey(kind, panel.entity)} as YAML</h2>
      <button onClick=${() => setPanel(null)}>Close</button></div><pre class="code" tabindex="0">${panel.yaml}</pre></section>`}
    <section class="card">
      <div class="card-head">
        <label class="search"><span class="visually-hidden">Search ${label.toLowerCase()}</span>
          <input type="search" placeholder=${`Search ${label.toLowerCase()} by name, detail or tag`} value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} /></label>
        <span class="muted small" aria-live="polite">${rows === null ? 'Loading…' : `${shown.length} of ${rows.length}`}</span>
      </div>
      ${rows !== null && rows.length === 0 ? html`<p class="muted">No ${label.toLowerCase()} yet.</p>` : html`
      <div class="table-wrap"><table class="entities" aria-label=${label}>
        <thead><tr><th scope="col">Name</th><th scope="col">Details</th><th scope="col">Tags</th><th scope="col">Updated</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${shown.map((e) => html`<tr key=${e.id}>
          <th scope="row" class="name">${entityKey(kind, e)}</th>
          <td class="detail">${summary(kind, e)}</td>
          <td>${(e.tags ?? []).map((t) => html`<span class="tag">${t}</span>`)}</td>
          <td class="small">${e.updated_at ? fmt.time(Date.parse(e.updated_at)) : '–'}</td>
          <td class="row-actions">
            ${readOnly ? html`<button onClick=${() => showYaml(e)} aria-label=${`YAML of ${entityKey(kind, e)}`}>YAML</button>` : ''}
            ${kind !== 'credentials' && html`<button onClick=${() => (setNotice(null), setPanel({ type: 'form', entity: e }))} aria-label=${`${readOnly ? 'Propose a change to' : 'Edit'} ${entityKey(kind, e)}`}>${readOnly ? 'Propose change' : 'Edit'}</button>`}
            ${!readOnly && html`<button class="danger" onClick=${() => (setNotice(null), setPanel({ type: 'delete', entity: e }))} aria-label=${`Delete ${entityKey(kind, e)}`}>Delete</button>`}
          </td></tr>`)}</tbody>
      </table></div>`}
    </section>`;
}
