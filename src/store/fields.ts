// The fields an entity body may carry, per kind: the config element's keys (read from the
// config schema, so a key added there is accepted here with no second list), the kind's
// references, and what a GET shows that a PUT may carry back. Anything else is refused
// with the list. Plugins and credentials are checked before anything else (the document
// holds only a plugin's name and config, so an unknown field was dropped: `"servce":
// "orders"` made a service plugin global; a credential is rewritten to its stored form);
// other kinds' bodies are config elements, so the document's validator finds their
// unknown keys, with every other problem, and the control plane words them with this
// list. Built once.
import { buildConfigSchema } from '../compiler/schema.js';
import { didYouMean } from '../base/problems.js';
import type { EntityProblem } from './document.js';
import { CREDENTIAL_TYPES, KINDS, META_FIELDS, type Kind, type KindName } from './kinds.js';

interface Fields {
  /** What the error lists: the fields a body sets. */
  readonly writable: readonly string[];
  /** Writable, owned by other kinds (they get their own message), and shown by a GET. */
  readonly known: ReadonlySet<string>;
}

/** Fields from another gateway's model, with how Northgate does the same thing. */
const HINTS: Partial<Record<KindName, Record<string, string>>> = {
  plugins: {
    consumer: 'a plugin applies to a route, a service or everything, not to one consumer: per-consumer limits are plans (POST /plans {"name": "gold", "rate_limit": {...}, "quota": {...}}, then PATCH /consumers/NAME {"plan": "gold"}), and acl allows or denies consumers by group',
    enabled: 'a plugin is on while it exists: DELETE it to turn it off',
  },
  services: {
    host: 'a service names where it goes with "url" (http://host:port/path) or "upstream"',
    port: 'a service names where it goes with "url" (http://host:port/path) or "upstream"',
    protocol: 'a service names where it goes with "url" (http://host:port/path) or "upstream"',
    path: 'a service names where it goes with "url" (http://host:port/path) or "upstream"',
  },
};

const READ_BACK: Partial<Record<KindName, readonly string[]>> = { plugins: ['scope'], credentials: ['key_hash', 'password_set', 'secret_set'] };

type Props = Record<string, unknown>;
const propsOf = (schema: unknown): string[] => Object.keys(((schema as { properties?: Props } | undefined)?.properties ?? {}) as Props);

let table: Map<string, Fields> | null = null;

function build(): Map<string, Fields> {
  const root = buildConfigSchema([]) as { properties: Record<string, { items?: unknown; properties?: Props }> };
  const item = (section: string) => root.properties[section]!.items as { properties: Props };
  const upstream = item('upstreams');
  const service = item('services');
  const consumer = item('consumers');
  const credentialTypes = (consumer.properties['credentials'] as { properties: Record<string, { items: unknown }> }).properties;
  const element: Record<KindName, string[]> = {
    upstreams: propsOf(upstream),
    targets: propsOf((upstream.properties['targets'] as { items: unknown }).items),
    services: propsOf(service),
    routes: propsOf((service.properties['routes'] as { items: unknown }).items),
    consumers: propsOf(consumer),
    credentials: ['id'],
    plugins: ['name', 'config'],
    plans: propsOf(item('plans')),
  };
  const out = new Map<string, Fields>();
  const add = (key: string, kind: Kind, own: string[]) => {
    const writable = [...new Set([...own.filter((f) => !(f in kind.owned)), ...Object.keys(kind.refs), 'tags'])];
    out.set(key, { writable, known: new Set([...writable, ...Object.keys(kind.owned), ...META_FIELDS, 'id', ...(READ_BACK[kind.name] ?? [])]) });
  };
  for (const kind of KINDS) {
    if (kind.name !== 'credentials') {
      add(kind.name, kind, element[kind.name]);
      continue;
    }
    // A credential's fields depend on its type; an unknown type gets the union (its own problem says which types exist).
    const base = ['consumer', 'type', 'id'];
    const all: string[] = [];
    for (const type of CREDENTIAL_TYPES) {
      const own = propsOf(credentialTypes[type]!.items);
      all.push(...own);
      add(`credentials:${type}`, kind, [...base, ...own]);
    }
    add('credentials', kind, [...base, ...all]);
  }
  return out;
}

const article = (word: string): string => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

/** The message for a field of `body` that `kind` does not have, or null when it has it. */
export function unknownFieldMessage(kind: Kind, key: string, body: Record<string, unknown>): string | null {
  table ??= build();
  const type = body['type'];
  const typed = kind.name === 'credentials' && typeof type === 'string' ? table.get(`credentials:${type}`) : undefined;
  const fields = typed ?? table.get(kind.name)!;
  if (fields.known.has(key)) return null;
  const hint = HINTS[kind.name]?.[key];
  const similar = hint === undefined ? didYouMean(key, fields.writable) : undefined;
  const what = typed !== undefined ? `a ${String(type)} credential` : article(kind.singular);
  return `unknown field "${key}"${hint ? `: ${hint}` : similar ? ` (did you mean "${similar}"?)` : ''}; ${what} has: ${fields.writable.join(', ')}`;
}

/** A problem per field of `body` that `kind` does not have, naming the fields it has. */
export function unknownFields(kind: Kind, body: Record<string, unknown>): EntityProblem[] {
  const problems: EntityProblem[] = [];
  for (const key of Object.keys(body)) {
    const message = unknownFieldMessage(kind, key, body);
    if (message !== null) problems.push({ path: [key], message });
  }
  return problems;
}
