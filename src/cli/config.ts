// `northgate config dump|diff|apply`: the store as a declarative file, for GitOps. Dump
// writes credentials in their stored forms (key_digest, password_hash), which the config
// accepts, so dump -> apply leaves the store unchanged and no plaintext key is revealed.
import { stringify } from 'yaml';
import { loadStoreDocument } from '../compiler/load.js';
import { ConfigError, formatPath } from '../base/problems.js';
import { defaultRegistry } from '../plugins/index.js';
import { ConfigControl } from '../store/control.js';
import { assemble, disassemble, type EntityRow } from '../store/document.js';
import { canonical, EntityError, planReplaceAll } from '../store/entities.js';
import { openStore, type Store } from '../store/store.js';
import { parse, UsageError } from './args.js';

const HELP = `Usage: northgate config <dump|diff|apply> --store URL [flags]

  dump   --store URL [--format yaml|json]     print the store's entities as a config document
  diff   --store URL -c FILE                  list what apply would create (+), change (~), delete (-);
                                              exits 1 when there are differences, 0 when none
  apply  --store URL -c FILE [--dry-run]      make the store hold exactly FILE's entities, atomically

URL: sqlite:./northgate.db or postgres://user@host/db (?schema=NAME for a schema).
Node settings in FILE (listen, limits, store, admin...) are not stored: only entities
(upstreams, services, consumers, plugins, plans). FILE is read as the gateway reads its
config: \${VAR} and \${VAR:-default} come from this command's environment (the store keeps
the values). See docs/admin-api.md.
`;

export async function configCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (!['dump', 'diff', 'apply'].includes(sub)) throw new UsageError(`unknown config command "${sub}"; use dump, diff or apply`);
  const { values } = parse(`config ${sub}`, rest, {
    store: { type: 'string' },
    config: { type: 'string', short: 'c' },
    format: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.store === undefined) throw new UsageError(`config ${sub} needs --store URL (sqlite:PATH or postgres://...)`);
  if (sub !== 'dump' && values.config === undefined) throw new UsageError(`config ${sub} needs -c FILE`);
  const registry = defaultRegistry();
  let file: Record<string, unknown> | null = null;
  if (values.config !== undefined) {
    try {
      file = loadStoreDocument(values.config, registry) as unknown as Record<string, unknown>;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(err.lines().join('\n') + '\n');
        return 2;
      }
      throw err;
    }
  }
  let store: Store;
  try {
    // dump, diff and a dry run only read: a store that does not exist is an error, not created empty.
    store = await openStore(values.store, { mustExist: sub !== 'apply' || values['dry-run'] === true });
  } catch (err) {
    process.stderr.write(`northgate: cannot open the store: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    if (sub === 'dump') {
      const { doc } = assemble((await store.read()).rows);
      process.stdout.write(values.format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : `# northgate config dump of ${store.description}\n` + stringify(doc, { lineWidth: 0 }));
      return 0;
    }
    const inputs = disassemble(file!);
    if (sub === 'diff' || values['dry-run']) {
      const state = await store.read();
      const plan = planReplaceAll(state, inputs);
      printChanges(plan, new Map(state.rows.map((r) => [`${r.kind}/${r.id}`, r])));
      if (sub === 'apply') process.stdout.write('dry run: nothing written\n');
      return sub === 'diff' && plan.writes.length > 0 ? 1 : 0;
    }
    const control = new ConfigControl({ registry, settings: { _format_version: '1' }, store });
    let plan: ReturnType<typeof planReplaceAll> | null = null;
    try {
      const done = await control.write((s) => (plan = planReplaceAll(s, inputs)));
      printChanges(plan!);
      process.stdout.write(`applied: config version ${done.version}\n`);
    } catch (err) {
      if (err instanceof EntityError) {
        process.stderr.write(`northgate: ${err.message}\n`);
        for (const p of err.problems) process.stderr.write(`  ${[p.name ?? (p.kind ? `${p.kind}/${p.id}` : 'configuration'), p.path.length > 0 ? formatPath(p.path) : null].filter((x) => x !== null).join(': ')}: ${p.message}\n`);
        return 2;
      }
      throw err;
    }
    return 0;
  } finally {
    await store.close();
  }
}

function printChanges(plan: { created: EntityRow[]; changed: EntityRow[]; deleted: EntityRow[] }, before?: ReadonlyMap<string, EntityRow>): void {
  const line = (sign: string, r: EntityRow) => `${sign} ${r.kind}/${r.key}\n`;
  const changed = (r: EntityRow) => {
    const old = before?.get(`${r.kind}/${r.id}`);
    if (old === undefined) return line('~', r);
    // Credentials hold digests and secrets: which fields changed, never their values.
    const secret = r.kind === 'credentials';
    return line('~', r) + fieldChanges(old.body, r.body).map(({ path, from, to }) => `    ${path}: ${secret ? 'changed' : `${show(from)} -> ${show(to)}`}\n`).join('');
  };
  const out = [...plan.created.map((r) => line('+', r)), ...plan.changed.map(changed), ...plan.deleted.map((r) => line('-', r))];
  process.stdout.write(out.length === 0 ? 'no changes\n' : out.join('') + `${plan.created.length} to create, ${plan.changed.length} to change, ${plan.deleted.length} to delete\n`);
}


/** The leaf fields that differ between two entity bodies (objects are walked; arrays compare whole). */
export function fieldChanges(from: unknown, to: unknown, path = ''): Array<{ path: string; from: unknown; to: unknown }> {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(from) && isObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((k) => fieldChanges(from[k], to[k], path === '' ? k : `${path}.${k}`));
  }
  return canonical(from) === canonical(to) ? [] : [{ path: path === '' ? '(whole)' : path, from, to }];
}

function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
