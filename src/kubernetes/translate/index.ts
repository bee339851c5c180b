// Kubernetes resources → one Northgate config document, the status to write back, and notes
// on what is not served. Pure: the same resources (and options) give the same result. Each
// family (Gateway API here; Ingress in ingress.ts) contributes ConfigParts; listeners are
// merged by port. The document is checked with the config validator before it is returned:
// a route whose translation the validator refuses (a path or pattern Northgate does not take)
// is refused (Accepted=False, UnsupportedValue) and the rest is translated again without it.
import { validateConfig } from '../../compiler/validate.js';
import { defaultRegistry } from '../../plugins/index.js';
import type { ConfigParts, ResourceSnapshot, TranslateOptions, Translation } from './model.js';
import { DEFAULT_CONTROLLER_NAME } from './model.js';
import { rfc3339 } from './conditions.js';
import { translateGatewayApi } from './gateway-api.js';

export type { ConfigParts, ObjectStatus, TranslateOptions, Translation, TranslationNote } from './model.js';
export { resolveServiceBackend, upstreamName } from './backends.js';


export function translate(resources: ResourceSnapshot, opts: TranslateOptions = {}): Translation {
  const now = opts.now ?? rfc3339(new Date());
  const controllerName = opts.controllerName ?? DEFAULT_CONTROLLER_NAME;
  const refused = new Map<string, string>();
  const registry = defaultRegistry();
  for (;;) {
    const gateway = translateGatewayApi(resources, { ...opts, controllerName }, now, refused);
    // The Ingress translator joins here: families.push(translateIngresses(resources, opts)).
    const families: ConfigParts[] = [gateway.parts];
    const translation = merge(families);
    const { problems } = validateConfig(translation.config, registry);
    if (problems.length === 0) return translation;
    let more = false;
    for (const p of problems) {
      const services = translation.config.services as Array<{ name?: unknown }>;
      const owner = p.path[0] === 'services' && typeof p.path[1] === 'number' ? gateway.owners.get(String(services[p.path[1]]?.name)) : undefined;
      if (owner === undefined || refused.has(owner)) continue;
      refused.set(owner, `not translatable: ${p.path.join('.')}: ${p.message}`);
      more = true;
    }
    // Each pass refuses at least one more route object (the validator reports some kinds of problem only once others are gone), so this ends.
    if (!more) {
      const notes = [...translation.notes, ...problems.map((p) => ({ kind: 'Gateway' as const, name: '(config)', message: `${p.path.join('.')}: ${p.message}` }))];
      return { ...translation, notes };
    }
  }
}

/** One document from the families' parts; listeners on the same port become one (names and certificates joined). */
function merge(families: ConfigParts[]): Translation {
  const listeners = new Map<string, Record<string, unknown>>();
  for (const f of families) {
    for (const l of f.listeners) {
      // Port 0 (a port map to "any free port", in tests) binds each listener apart.
      const address = String(l.address).endsWith(':0') ? `${String(l.address)}#${String(l.name ?? listeners.size)}` : String(l.address);
      const have = listeners.get(address);
      if (have === undefined) {
        listeners.set(address, structuredClone(l));
        continue;
      }
      if (have.name === undefined && l.name !== undefined) have.name = l.name;
      const certs = (l.tls as { certificates?: unknown[] } | undefined)?.certificates;
      if (certs !== undefined && have.tls !== undefined) (have.tls as { certificates: unknown[] }).certificates.push(...certs);
    }
  }
  const proxy = [...listeners.values()];
  const config: Record<string, unknown> = {
    _format_version: '1',
    // Without any listener the config's default proxy listener applies.
    ...(proxy.length > 0 ? { listen: { proxy } } : {}),
    upstreams: families.flatMap((f) => f.upstreams),
    services: families.flatMap((f) => f.services),
  };
  return { config, statuses: families.flatMap((f) => f.statuses), notes: families.flatMap((f) => f.notes) };
}
