// The portal's compiled settings, part of the snapshot: who may do what, and the catalog of
// published services with their OpenAPI documents (read at load, see documents.ts).
import { formatAddress, parseAddress } from '../base/address.js';
import { parseDuration } from '../base/duration.js';
import type { RawConfig, RawPortal, RawServicePortal } from '../config/types.js';
import { documentOf, type OpenApiDocument } from './documents.js';
import { contractFor } from '../openapi/contracts.js';
import type { QuotaConfig } from '../plugins/quota/schema.js';

/** Self-service plans must be plans of the config (`plans:`). */
export function checkPortalPlans(portal: RawPortal | undefined, plans: ReadonlyArray<{ name: string }> | undefined, add: (path: Array<string | number>, message: string) => void): void {
  const offered = portal?.self_service?.plans;
  if (!Array.isArray(offered)) return;
  const known = new Set((plans ?? []).map((p) => p.name));
  offered.forEach((name, i) => {
    if (!known.has(name)) add(['portal', 'self_service', 'plans', i], `no plan named "${name}" in plans:${known.size === 0 ? ' (there is no plans: section)' : ` (known: ${[...known].join(', ')})`}`);
  });
}

export const PORTAL_DEFAULTS = {
  listen: '127.0.0.1:8200',
  title: 'API portal',
  accent: '#1d5fa8',
  sessionTtl: '12h',
  perAccount: 5,
  perIp: 20,
  window: '15m',
} as const;

export interface PortalApi {
  readonly service: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly versions: readonly string[];
  /** The path prefix clients call on the gateway ("" when the routes do not strip a prefix). */
  readonly pathPrefix: string;
  readonly openapi: OpenApiDocument | null;
}

/** The portal's look: the title is `portal.title`; logo and accent colour from `portal.brand`. */
export interface PortalBrand {
  /** An https URL or a path on the portal's origin, or null. */
  readonly logoUrl: string | null;
  /** The origin an https logo is loaded from (the pages' CSP allows images from it), or null. */
  readonly logoOrigin: string | null;
  /** CSS hex colours: the accent, the text drawn on it, and the accent as a text colour on white. */
  readonly accent: string;
  readonly onAccent: string;
  readonly accentText: string;
}

export interface PortalSettings {
  readonly listen: { readonly host: string; readonly port: number; readonly address: string };
  readonly title: string;
  readonly brand: PortalBrand;
  /** Public base URL of the gateway's proxy, or null: derived from the first proxy listener. */
  readonly baseUrl: string | null;
  /** The portal's own public URL (OIDC redirect, Secure cookies), or null: from the request. */
  readonly url: string | null;
  readonly admins: ReadonlySet<string>;
  /** Plans a developer may pick, or false: access is requested and approved by an admin. */
  readonly plans: readonly string[] | false;
  readonly signUp: boolean;
  readonly sessionTtlMs: number;
  readonly cookieSecure: 'auto' | boolean;
  readonly signInLimits: { readonly perAccount: number; readonly perIp: number; readonly windowMs: number };
  readonly oidc: { readonly issuer: string; readonly clientId: string; readonly clientSecret: string | null; readonly scopes: readonly string[]; readonly label: string } | null;
  readonly apis: ReadonlyMap<string, PortalApi>;
  /** Each plan's `quota` config (the usage page shows what an account used of it). */
  readonly planQuotas: ReadonlyMap<string, QuotaConfig>;
}

/** The catalog's search: `q` in title, description, name or tags (case-insensitive), `tag` exactly. */
export function searchApis(apis: ReadonlyMap<string, PortalApi>, q: string, tag: string): PortalApi[] {
  const needle = q.trim().toLowerCase().slice(0, 200);
  return [...apis.values()].filter((a) => (tag === '' || a.tags.includes(tag)) && (needle === '' || `${a.title}\n${a.description}\n${a.service}\n${a.tags.join(' ')}`.toLowerCase().includes(needle)));
}

/** Every tag of the catalog, sorted. */
export function catalogTags(apis: ReadonlyMap<string, PortalApi>): string[] {
  return [...new Set([...apis.values()].flatMap((a) => a.tags))].sort();
}

export function compilePortal(config: RawConfig): PortalSettings | null {
  const raw = (config as { portal?: RawPortal }).portal;
  const listen = (config.listen as { portal?: string | null } | undefined)?.portal;
  if (raw === undefined || listen === null) return null;
  const a = parseAddress(listen ?? PORTAL_DEFAULTS.listen);
  if (typeof a === 'string') throw new Error(`invalid portal address: ${a}`);
  const apis = new Map<string, PortalApi>();
  for (const s of config.services ?? []) {
    const p = (s as { portal?: RawServicePortal }).portal;
    if (p === undefined || p.published !== true) continue;
    // Without a document of its own, the page shows the one the service is checked against.
    const doc = documentOf(p) ?? contractFor(s.openapi)?.document ?? null;
    const info = (doc?.['info'] ?? {}) as Record<string, unknown>;
    apis.set(s.name, {
      service: s.name,
      title: p.title ?? (typeof info['title'] === 'string' ? info['title'] : s.name),
      description: p.description ?? (typeof info['description'] === 'string' ? info['description'] : ''),
      tags: p.tags ?? [],
      versions: p.versions ?? (typeof info['version'] === 'string' ? [info['version']] : []),
      pathPrefix: pathPrefix(s.routes ?? []),
      openapi: doc,
    });
  }
  return {
    listen: { host: a.host, port: a.port, address: formatAddress(a.host, a.port) },
    title: raw.title ?? PORTAL_DEFAULTS.title,
    brand: compileBrand(raw.brand),
    baseUrl: raw.base_url?.replace(/\/+$/, '') ?? null,
    url: raw.url?.replace(/\/+$/, '') ?? null,
    admins: new Set((raw.admins ?? []).map((e) => e.toLowerCase())),
    plans: raw.self_service?.plans ?? false,
    signUp: raw.self_service?.sign_up ?? true,
    sessionTtlMs: parseDuration(raw.session?.ttl ?? PORTAL_DEFAULTS.sessionTtl)!,
    cookieSecure: raw.session?.cookie_secure ?? 'auto',
    signInLimits: {
      perAccount: raw.sign_in_limits?.per_account ?? PORTAL_DEFAULTS.perAccount,
      perIp: raw.sign_in_limits?.per_ip ?? PORTAL_DEFAULTS.perIp,
      windowMs: parseDuration(raw.sign_in_limits?.window ?? PORTAL_DEFAULTS.window)!,
    },
    oidc: raw.oidc
      ? { issuer: raw.oidc.issuer, clientId: raw.oidc.client_id, clientSecret: raw.oidc.client_secret ?? null, scopes: raw.oidc.scopes ?? ['openid', 'email', 'profile'], label: raw.oidc.label ?? 'Single sign-on' }
      : null,
    apis,
    planQuotas: new Map((config.plans ?? []).flatMap((p) => (p.quota ? [[p.name, p.quota as QuotaConfig] as const] : []))),
  };
}

/** The literal prefix of the first stripping route ("/orders" for paths ["/orders"] with strip_path). */
function pathPrefix(routes: ReadonlyArray<{ paths: string[]; strip_path?: boolean }>): string {
  const r = routes[0];
  if (r === undefined || r.strip_path !== true) return '';
  const p = r.paths[0] ?? '';
  if (p.startsWith('~')) return '';
  const literal = p.split('/').filter((seg) => seg !== '' && !seg.startsWith(':') && !seg.includes('*'));
  const all = p.split('/').filter((seg) => seg !== '');
  return literal.length === all.length ? '/' + literal.join('/') : '';
}

function compileBrand(raw: RawPortal['brand']): PortalBrand {
  const logoUrl = raw?.logo_url ?? null;
  const accent = expandHex(raw?.accent_color ?? PORTAL_DEFAULTS.accent);
  const l = luminance(accent);
  return {
    logoUrl,
    logoOrigin: logoUrl?.startsWith('https://') ? new URL(logoUrl).origin : null,
    accent,
    // WCAG contrast: white text on a dark accent, near-black on a light one.
    onAccent: contrast(l, 1) >= contrast(l, luminance('#1b1f24')) ? '#ffffff' : '#1b1f24',
    // Links and headings in the accent colour only when they stay readable on white (4.5:1).
    accentText: contrast(l, 1) >= 4.5 ? accent : PORTAL_DEFAULTS.accent,
  };
}

/** "#abc" and "#abcd" as "#aabbcc" / "#aabbccdd" (the schema admits hex colours only). */
function expandHex(hex: string): string {
  const h = hex.slice(1).toLowerCase();
  return '#' + (h.length <= 4 ? [...h].map((c) => c + c).join('') : h);
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: number, b: number): number {
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
