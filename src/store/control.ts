// A node's view of its configuration, for the admin API and the runtime. In `mode: file`
// the file is the truth (entities are read from it, writes are refused); in
// `mode: database` the entities come from the store: every write is planned on the state
// it read, validated as a whole document (the file's validate path), committed against
// that state's version (retried when another node committed first), then applied here at
// once. Other nodes' commits arrive by LISTEN/NOTIFY (PostgreSQL) and a version poll.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError, formatPath, type ConfigProblem } from '../base/problems.js';
import type { RawConfig } from '../config/types.js';
import { validateConfig } from '../compiler/validate.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import { assemble, describeRow, disassemble, mapProblems, nameCoordinates, type EntityRow } from './document.js';
import { EntityError, type Planned } from './entities.js';
import { unknownFieldMessage } from './fields.js';
import { KIND_BY_NAME } from './kinds.js';
import type { NodeInfo, Store, StoreState } from './store.js';

export const HEARTBEAT_MS = 5000;
export const PEER_MAX_AGE_MS = 30_000;
const MAX_ATTEMPTS = 8;

export interface ControlOptions {
  readonly registry: PluginRegistry;
  /** The node file's settings (listen, limits, store, admin...), without entity sections. */
  readonly settings: Record<string, unknown>;
  /** null in file mode. */
  readonly store: Store | null;
  /** File mode: the config the gateway runs now. */
  readonly fileConfig?: () => RawConfig;
  readonly nodeId?: string;
  readonly pollMs?: number;
  /** Applies a validated document (database mode): swap this process's snapshot, or relay to workers. */
  readonly apply?: (config: RawConfig, version: number) => void | Promise<void>;
  readonly onError?: (err: unknown) => void;
}

export class ConfigControl {
  readonly mode: 'file' | 'database';
  readonly nodeId: string;
  readonly startedAt = new Date();
  readonly #opts: ControlOptions;
  #cache: StoreState | null = null;
  #applied = 0;
  #syncing: Promise<void> | null = null;
  #timers: NodeJS.Timeout[] = [];
  #fileRows = new WeakMap<object, EntityRow[]>();

  constructor(opts: ControlOptions) {
    this.#opts = opts;
    this.mode = opts.store === null ? 'file' : 'database';
    this.nodeId = opts.nodeId ?? `${hostname()}:${process.pid}`;
  }

  get store(): Store | null {
    return this.#opts.store;
  }

  get registry(): PluginRegistry {
    return this.#opts.registry;
  }

  get settings(): Record<string, unknown> {
    return this.#opts.settings;
  }

  /** The config version this node runs. */
  get version(): number {
    return this.mode === 'file' ? 1 : this.#applied;
  }

  /** The current entities: the store's (cached per version) or the file's. */
  async state(): Promise<StoreState> {
    const store = this.#opts.store;
    if (store === null) {
      const config = this.#opts.fileConfig!();
      let rows = this.#fileRows.get(config);
      if (!rows) {
        rows = fileRows(config as unknown as Record<string, unknown>);
        this.#fileRows.set(config, rows);
      }
      return { version: 1, rows };
    }
    if (this.#cache !== null && (await store.version()) === this.#cache.version) return this.#cache;
    this.#cache = await store.read();
    return this.#cache;
  }

  /** Validates the document these rows make; throws StoreConfigError naming the store's entities. */
  document(rows: readonly EntityRow[]): RawConfig {
    const { doc, owners } = assemble(rows, this.#opts.settings);
    const { config, problems } = validateConfig(doc, this.#opts.registry);
    if (problems.length > 0) {
      const mapped = mapProblems(problems, owners);
      throw new StoreConfigError(
        this.#opts.store?.description ?? 'store',
        mapped.map((p): ConfigProblem => {
          const row = p.kind && rows.find((r) => r.kind === p.kind && r.id === p.id);
          const where = [row ? describeRow(row) : null, p.path.length > 0 ? formatPath(p.path) : null].filter((x) => x !== null).join(': ');
          return { path: p.kind ? [p.kind, p.id!, ...p.path] : p.path, message: `${where === '' ? '' : `${where}: `}${nameCoordinates(p.message, owners, rows)}` };
        }),
      );
    }
    return config;
  }

  /** Plans and validates a change without committing it (a proposed change in either mode). */
  async check(plan: (state: StoreState) => Planned, target?: { kind: string; id?: string }): Promise<Planned> {
    const planned = plan(await this.state());
    this.#validate(planned, target);
    return planned;
  }

  /** Plans, validates and commits a change; applies it here before resolving. */
  async write(plan: (state: StoreState) => Planned, target?: { kind: string; id?: string }): Promise<Planned & { version: number }> {
    const store = this.#opts.store;
    if (store === null) throw new Error('write in file mode');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const state = await this.state();
      const planned = plan(state);
      this.#validate(planned, target);
      if (planned.writes.length === 0) return { ...planned, version: state.version };
      const version = await store.commit(state.version, planned.writes);
      if (version === null) {
        this.#cache = null;
        continue;
      }
      await this.sync(version);
      return { ...planned, version };
    }
    throw new EntityError('entity-conflict', 'the configuration kept changing under this write; retry');
  }

  #validate(planned: Planned, target?: { kind: string; id?: string }): void {
    const { doc, owners } = assemble(planned.rows, this.#opts.settings);
    const { problems } = validateConfig(doc, this.#opts.registry);
    if (problems.length === 0) return;
    const named = mapProblems(problems, owners).map((p) => {
      const row = p.kind && planned.rows.find((r) => r.kind === p.kind && r.id === p.id);
      return { ...p, ...(row ? { name: describeRow(row) } : {}), message: nameCoordinates(p.message, owners, planned.rows) };
    });
    const mapped = named.map((p, i) => {
      // An unknown plugin name is reported at the plugin's key: that is its `name` field.
      if (p.kind === 'plugins' && p.path.length === 1 && p.path[0] === 'config' && problems[i]!.atKey) return { ...p, path: ['name'] };
      // An unknown key at an entity's top level: name the fields the entity has.
      if (p.kind && p.path.length === 1 && problems[i]!.atKey && p.message.startsWith('unknown key')) {
        const row = planned.rows.find((r) => r.kind === p.kind && r.id === p.id);
        const message = row && unknownFieldMessage(KIND_BY_NAME.get(p.kind)!, String(p.path[0]), row.body);
        if (message) return { ...p, message };
      }
      return p;
    });
    const own = target?.id ?? planned.row?.id;
    const first = mapped[0]!;
    const which = !first.kind ? 'configuration' : first.id === own || first.name === undefined ? KIND_BY_NAME.get(first.kind)!.singular : first.name;
    throw new EntityError('invalid-entity', `${mapped.length} problem(s); first: ${which}: ${first.message}`, mapped, own);
  }

  /** Reads the store and applies it when it is newer than what runs; resolves once `atLeast` runs. One sync at a time. */
  async sync(atLeast = 0): Promise<void> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      if (this.#syncing) {
        // The running one may have read an older state: wait, then run again unless it sufficed.
        await this.#syncing.catch(() => undefined);
        if (atLeast > 0 && this.#applied >= atLeast) return;
        continue;
      }
      this.#syncing = this.#syncOnce().finally(() => (this.#syncing = null));
      await this.#syncing;
      if (this.#applied >= atLeast) return;
    }
  }

  async #syncOnce(): Promise<void> {
    const state = await this.state();
    if (state.version === this.#applied) return;
    const config = this.document(state.rows);
    await this.#opts.apply?.(config, state.version);
    this.#applied = state.version;
  }

  /** The first document (database mode), before listeners bind. */
  async initial(): Promise<RawConfig> {
    const state = await this.state();
    const config = this.document(state.rows);
    this.#applied = state.version;
    return config;
  }

  /** Starts following the store: LISTEN (PostgreSQL), a version poll, heartbeats. */
  async watch(): Promise<void> {
    const store = this.#opts.store;
    if (store === null) return;
    const onError = this.#opts.onError ?? (() => undefined);
    const follow = () => void this.sync().catch(onError);
    await store.listen((v) => {
      if (v > this.#applied) follow();
    });
    const poll = this.#opts.pollMs ?? (store.kind === 'sqlite' ? 1000 : 5000);
    this.#timers.push(
      setInterval(() => {
        store.version().then((v) => {
          if (v !== this.#applied) follow();
        }, onError);
      }, poll),
    );
    const beat = () => void store.heartbeat(this.nodeInfo()).catch(onError);
    beat();
    this.#timers.push(setInterval(beat, HEARTBEAT_MS));
    for (const t of this.#timers) t.unref();
  }

  nodeInfo(): NodeInfo {
    return { id: this.nodeId, hostname: hostname(), pid: process.pid, started_at: this.startedAt.toISOString(), seen_at: new Date().toISOString(), config_version: this.#applied };
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await this.#syncing?.catch(() => undefined);
    await this.#opts.store?.close();
  }
}

/**
 * The store's document does not validate (at start, or a change another node made that this
 * one cannot run): each problem names the entity, since there is no file to point into.
 */
export class StoreConfigError extends ConfigError {
  override lines(): string[] {
    return this.problems.map((p) => `${this.file}: ${p.message}`);
  }
}

/** A file's entities as rows, with ids derived from their natural keys (stable across reloads). */
export function fileRows(doc: Record<string, unknown>): EntityRow[] {
  return disassemble(doc).map((e) => ({ kind: e.kind, id: e.id ?? stableId(`${e.kind}:${e.key}`), key: e.key, version: 1, body: e.body, tags: [], created_at: '', updated_at: '' }));
}

export function stableId(text: string): string {
  const h = createHash('sha256').update('northgate:entity:').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
