// The `northgate.io/` annotations an Ingress may carry (docs/kubernetes-ingress.md lists
// them), read into route options and plugin configs. The values are text anyone allowed to
// write an Ingress controls: each is bounded in size, `northgate.io/plugins` is parsed
// without aliases and refused when it holds a key that could reach an object's prototype,
// and the plugin configs are left to the compiler's own checks (ingress.ts runs them per
// Ingress, so a bad one leaves that Ingress alone unserved).
import { parse } from 'yaml';

export const ANNOTATION_PREFIX = 'northgate.io/';

export const ANNOTATIONS = {
  stripPath: 'northgate.io/strip-path',
  rateLimit: 'northgate.io/rate-limit',
  corsAllowOrigins: 'northgate.io/cors-allow-origins',
  plugins: 'northgate.io/plugins',
} as const;

/** What the annotations of one Ingress ask for. */
export interface IngressOptions {
  /** Remove the matched prefix before forwarding (routes[].strip_path). */
  readonly stripPath: boolean;
  /** Plugin name → config, for every route of the Ingress. */
  readonly plugins: Record<string, unknown>;
  /** `northgate.io/` annotations that are not known: ignored, and said so. */
  readonly unknown: readonly string[];
}

/** The longest value read of `northgate.io/plugins`; the other annotations are short. */
export const MAX_PLUGINS_BYTES = 64 * 1024;
const MAX_VALUE_BYTES = 4 * 1024;
/** Nesting and size bounds of the plugin document (a plugin config is small). */
const MAX_DEPTH = 16;
const MAX_NODES = 10_000;
const MAX_ORIGINS = 64;
/**
 * The plugins an Ingress may configure. Whoever may write an Ingress is not trusted with the
 * gateway's network position: plugins that make the gateway contact an address of their
 * config (forward-auth, request-mirror, openid-connect, introspection, and auth, which can
 * hold introspection) or read a file (mtls-auth, mock, request-validator) would let an Ingress
 * reach the admin API on loopback, other namespaces or a cloud metadata service. They belong
 * in the gateway's own config. An allowlist, so a plugin added later is refused until judged.
 */
export const ANNOTATION_PLUGINS: ReadonlySet<string> = new Set(['acl', 'basic-auth', 'cache', 'compression', 'cors', 'fault-injection', 'headers', 'ip-restriction', 'jwt', 'key-auth', 'quota', 'rate-limit', 'redirect', 'request-size-limit', 'request-termination', 'rewrite', 'transform', 'versioning']);
/** Keys of the allowed plugins that name another address: a Redis server, a JWKS or discovery URL. */
const ADDRESS_KEYS = new Set(['redis', 'jwks_uri', 'discovery']);
/** Keys that would reach or replace an object's prototype when the value is copied. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The options, or why the annotations cannot be read (the Ingress is then not served). */
export function readAnnotations(annotations: unknown): IngressOptions | { error: string } {
  const all = isRecord(annotations) ? annotations : {};
  const unknown: string[] = [];
  let stripPath = false;
  const plugins: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const known = new Set<string>(Object.values(ANNOTATIONS));
  for (const key of Object.keys(all).sort()) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    if (!known.has(key)) unknown.push(key);
  }
  const value = (key: string, max: number): string | undefined | { error: string } => {
    if (!Object.hasOwn(all, key)) return undefined;
    const v = all[key];
    if (typeof v !== 'string') return { error: `${key}: must be a string` };
    if (Buffer.byteLength(v) > max) return { error: `${key}: longer than ${max} bytes` };
    return v;
  };

  const strip = value(ANNOTATIONS.stripPath, MAX_VALUE_BYTES);
  if (typeof strip === 'object') return strip;
  if (strip !== undefined) {
    const b = strip.trim();
    if (b !== 'true' && b !== 'false') return { error: `${ANNOTATIONS.stripPath}: must be "true" or "false"` };
    stripPath = b === 'true';
  }

  const doc = value(ANNOTATIONS.plugins, MAX_PLUGINS_BYTES);
  if (typeof doc === 'object') return doc;
  if (doc !== undefined) {
    const parsed = parsePlugins(doc);
    if ('error' in parsed) return { error: `${ANNOTATIONS.plugins}: ${parsed.error}` };
    for (const [name, config] of Object.entries(parsed.plugins)) plugins[name] = config;
  }

  const rate = value(ANNOTATIONS.rateLimit, MAX_VALUE_BYTES);
  if (typeof rate === 'object') return rate;
  if (rate !== undefined) {
    const n = rate.trim();
    if (!/^[1-9][0-9]{0,9}$/.test(n) || Number(n) > 1_000_000_000) return { error: `${ANNOTATIONS.rateLimit}: must be a number of requests per minute from 1 to 1000000000` };
    if (Object.hasOwn(plugins, 'rate-limit')) return { error: `${ANNOTATIONS.rateLimit} and ${ANNOTATIONS.plugins} both configure rate-limit` };
    plugins['rate-limit'] = { limits: [{ per: '1m', max: Number(n) }], key: 'ip' };
  }

  const origins = value(ANNOTATIONS.corsAllowOrigins, MAX_VALUE_BYTES);
  if (typeof origins === 'object') return origins;
  if (origins !== undefined) {
    const list = origins.split(',').map((o) => o.trim()).filter((o) => o !== '');
    if (list.length === 0) return { error: `${ANNOTATIONS.corsAllowOrigins}: names no origin` };
    if (list.length > MAX_ORIGINS) return { error: `${ANNOTATIONS.corsAllowOrigins}: more than ${MAX_ORIGINS} origins` };
    if (Object.hasOwn(plugins, 'cors')) return { error: `${ANNOTATIONS.corsAllowOrigins} and ${ANNOTATIONS.plugins} both configure cors` };
    plugins['cors'] = { origins: list };
  }

  // A plain object again (the null-prototype one only guarded the assembly).
  return { stripPath, plugins: { ...plugins }, unknown };
}

/** `northgate.io/plugins`: a YAML (or JSON) mapping of plugin name → config. */
function parsePlugins(text: string): { plugins: Record<string, unknown> } | { error: string } {
  let value: unknown;
  try {
    // No aliases (no expansion bombs), unique keys, only the core schema's plain types.
    value = parse(text, { maxAliasCount: 0, uniqueKeys: true, schema: 'core', prettyErrors: false });
  } catch (err) {
    return { error: `not valid YAML or JSON (${firstLine(err)})` };
  }
  if (!isRecord(value)) return { error: 'must be a mapping of plugin name to config' };
  const bad = unsafe(value, 0, { nodes: 0 });
  if (bad !== null) return { error: bad };
  for (const [name, config] of Object.entries(value)) {
    if (!ANNOTATION_PLUGINS.has(name)) return { error: `the plugin "${name.slice(0, 64)}" cannot be configured from an Ingress (allowed: ${[...ANNOTATION_PLUGINS].join(', ')})` };
    const key = addressKey(config, 0);
    if (key !== null) return { error: `${name}: "${key}" names another address and cannot be set from an Ingress` };
  }
  return { plugins: value };
}

/** The first key of ADDRESS_KEYS in a plugin config (bounded by unsafe()'s depth check), or null. */
function addressKey(v: unknown, depth: number): string | null {
  if (depth > MAX_DEPTH || v === null || typeof v !== 'object') return null;
  for (const [k, x] of Object.entries(v)) {
    if (ADDRESS_KEYS.has(k)) return k;
    const r = addressKey(x, depth + 1);
    if (r !== null) return r;
  }
  return null;
}

/** Why a parsed value may not be copied into a config, or null. */
function unsafe(v: unknown, depth: number, count: { nodes: number }): string | null {
  if (++count.nodes > MAX_NODES) return `more than ${MAX_NODES} values`;
  if (depth > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH}`;
  if (Array.isArray(v)) {
    for (const x of v) {
      const r = unsafe(x, depth + 1, count);
      if (r !== null) return r;
    }
    return null;
  }
  if (v !== null && typeof v === 'object') {
    if (!isRecord(v)) return 'holds a value that is not plain data';
    for (const key of Reflect.ownKeys(v)) {
      if (typeof key !== 'string') return 'holds a value that is not plain data';
      if (FORBIDDEN_KEYS.has(key)) return `the key "${key}" is not allowed`;
      const r = unsafe((v as Record<string, unknown>)[key], depth + 1, count);
      if (r !== null) return r;
    }
    return null;
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return null;
  return 'holds a value that is not plain data';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0]!.slice(0, 200);
}
