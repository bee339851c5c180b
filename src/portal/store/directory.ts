// The durable PortalDirectory: accounts and keys in the portal's database (SQLite or
// PostgreSQL). The consumers the gateway merges into its snapshot are cached here and
// reloaded when the portal's version row changes: at once after a change made by this
// process, and within one poll interval (250 ms) after a change made by another worker or
// node. Keys are stored as digests only.
import { randomUUID } from 'node:crypto';
import type { RawConsumer } from '../../config/types.js';
import { DirectoryConflict, keyDigestText, PREFIX_LENGTH, type KeyStatus, type PortalAccount, type PortalDirectory, type PortalKey, type Role } from '../directory.js';
import { isUniqueViolation, type PortalDb, type Queries } from './db.js';

export const POLL_MS = 250;

interface AccountRow {
  id: string;
  email: string;
  role: string;
  password_hash: string | null;
  oidc_subject: string | null;
  created_at: string;
}

interface KeyRow {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  digest: string;
  plan: string | null;
  status: string;
  created_at: string;
  rotated_at: string | null;
  revoked_at: string | null;
}

const KEY_COLUMNS = 'id, account_id, name, prefix, digest, plan, status, created_at, rotated_at, revoked_at';
const ACCOUNT_COLUMNS = 'id, email, role, password_hash, oidc_subject, created_at';
const BUMP = `UPDATE ng_portal_state SET value = value + 1 WHERE name = 'version'`;
const VERSION = `SELECT value FROM ng_portal_state WHERE name = 'version'`;

export class DatabaseDirectory implements PortalDirectory {
  readonly db: PortalDb;
  readonly #listeners: Array<() => void> = [];
  readonly #onError: (err: unknown) => void;
  #consumers: RawConsumer[] = [];
  /** The portal version the cached consumers were read at. */
  #version = -1;
  #refreshing: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;

  private constructor(db: PortalDb, onError: (err: unknown) => void) {
    this.db = db;
    this.#onError = onError;
  }

  /** Reads the consumers once, then follows the version row every `pollMs`. */
  static async open(db: PortalDb, opts: { pollMs?: number; onError?: (err: unknown) => void } = {}): Promise<DatabaseDirectory> {
    const d = new DatabaseDirectory(db, opts.onError ?? (() => undefined));
    await d.refresh();
    // A store that stops answering is reported once, not on every poll, until it answers again.
    let failing = false;
    d.#timer = setInterval(() => {
      d.db
        .all<{ value: number | string }>(VERSION)
        .then((r) => {
          if (Number(r[0]?.value) !== d.#version) return d.refresh();
        })
        .then(
          () => (failing = false),
          (err: unknown) => {
            if (!failing) d.#onError(err);
            failing = true;
          },
        );
    }, opts.pollMs ?? POLL_MS);
    d.#timer.unref();
    return d;
  }

  async findAccountByEmail(email: string): Promise<PortalAccount | null> {
    return accountOf((await this.db.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ng_portal_accounts WHERE email = ?`, [email.toLowerCase()]))[0]);
  }

  async findAccountById(id: string): Promise<PortalAccount | null> {
    return accountOf((await this.db.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ng_portal_accounts WHERE id = ?`, [id]))[0]);
  }

  async findAccountBySubject(subject: string): Promise<PortalAccount | null> {
    return accountOf((await this.db.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ng_portal_accounts WHERE oidc_subject = ?`, [subject]))[0]);
  }

  async createAccount(input: { email: string; role: Role; passwordHash: string | null; oidcSubject: string | null }): Promise<PortalAccount> {
    const account: PortalAccount = { id: randomUUID(), email: input.email.toLowerCase(), role: input.role, passwordHash: input.passwordHash, oidcSubject: input.oidcSubject, createdAt: new Date().toISOString() };
    try {
      await this.db.tx(async (q) => {
        await q.run(`INSERT INTO ng_portal_accounts (${ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`, [account.id, account.email, account.role, account.passwordHash, account.oidcSubject, account.createdAt]);
        await q.run(BUMP);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DirectoryConflict('an account with this email exists');
      throw err;
    }
    await this.refresh();
    return account;
  }

  async listAccounts(): Promise<PortalAccount[]> {
    return (await this.db.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ng_portal_accounts ORDER BY created_at, id`)).map((r) => accountOf(r)!);
  }

  async listKeys(accountId: string | null): Promise<PortalKey[]> {
    const rows =
      accountId === null
        ? await this.db.all<KeyRow>(`SELECT ${KEY_COLUMNS} FROM ng_portal_keys ORDER BY created_at, id`)
        : await this.db.all<KeyRow>(`SELECT ${KEY_COLUMNS} FROM ng_portal_keys WHERE account_id = ? ORDER BY created_at, id`, [accountId]);
    return rows.map(keyOf);
  }

  async createKey(accountId: string, input: { name: string; plan: string | null; status: KeyStatus; secret: string }): Promise<PortalKey> {
    const row: KeyRow = { id: randomUUID(), account_id: accountId, name: input.name, prefix: input.secret.slice(0, PREFIX_LENGTH), digest: keyDigestText(input.secret), plan: input.plan, status: input.status, created_at: new Date().toISOString(), rotated_at: null, revoked_at: null };
    await this.db.tx(async (q) => {
      await q.run(`INSERT INTO ng_portal_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [row.id, row.account_id, row.name, row.prefix, row.digest, row.plan, row.status, row.created_at, null, null]);
      if (row.status === 'active') await q.run(BUMP);
    });
    if (row.status === 'active') await this.refresh();
    return keyOf(row);
  }

  async rotateKey(accountId: string, keyId: string, secret: string): Promise<PortalKey | null> {
    const key = await this.db.tx(async (q) => {
      const n = await q.run(`UPDATE ng_portal_keys SET digest = ?, prefix = ?, rotated_at = ? WHERE id = ? AND account_id = ? AND status = 'active'`, [
        keyDigestText(secret),
        secret.slice(0, PREFIX_LENGTH),
        new Date().toISOString(),
        keyId,
        accountId,
      ]);
      if (n === 0) return null;
      await q.run(BUMP);
      return oneKey(q, keyId);
    });
    if (key !== null) await this.refresh();
    return key;
  }

  async setKeyStatus(accountId: string | null, keyId: string, status: KeyStatus): Promise<PortalKey | null> {
    const now = new Date().toISOString();
    const key = await this.db.tx(async (q) => {
      const set = `UPDATE ng_portal_keys SET status = ?, revoked_at = CASE WHEN ? = 'revoked' THEN ? ELSE revoked_at END, decided_at = CASE WHEN status = 'pending' THEN ? ELSE decided_at END WHERE id = ?`;
      const n = accountId === null ? await q.run(set, [status, status, now, now, keyId]) : await q.run(set + ' AND account_id = ?', [status, status, now, now, keyId, accountId]);
      if (n === 0) return null;
      await q.run(BUMP);
      return oneKey(q, keyId);
    });
    if (key !== null) await this.refresh();
    return key;
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  consumers(): RawConsumer[] {
    return this.#consumers;
  }

  /** Reads the consumers again (one refresh at a time; a call during one runs another after it) and tells the listeners. */
  refresh(): Promise<void> {
    if (this.#refreshing !== null) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#load();
        } while (this.#again);
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  async #load(): Promise<void> {
    // One transaction: the version and the rows are read from the same state.
    const { version, accounts, keys } = await this.db.tx(async (q) => ({
      version: Number((await q.all<{ value: number | string }>(VERSION))[0]?.value),
      accounts: await q.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM ng_portal_accounts ORDER BY created_at, id`),
      keys: await q.all<KeyRow>(`SELECT ${KEY_COLUMNS} FROM ng_portal_keys WHERE status = 'active' ORDER BY created_at, id`),
    }), 'read');
    if (version === this.#version) return;
    this.#version = version;
    this.#consumers = consumersOf(accounts, keys);
    for (const l of this.#listeners) {
      try {
        l();
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#refreshing?.catch(() => undefined);
    await this.db.close();
  }
}

/** One consumer per account (same id, username = email, group portal), with its active keys as key-auth credentials. */
export function consumersOf(accounts: readonly AccountRow[], activeKeys: readonly KeyRow[]): RawConsumer[] {
  const byAccount = new Map<string, KeyRow[]>();
  for (const k of activeKeys) {
    let list = byAccount.get(k.account_id);
    if (list === undefined) byAccount.set(k.account_id, (list = []));
    list.push(k);
  }
  return accounts.map((a) => {
    const own = byAccount.get(a.id);
    const plan = own?.find((k) => k.plan !== null)?.plan;
    const credentials = own?.map((k) => ({ id: k.id, key_digest: k.digest, key_prefix: k.prefix.slice(0, 8) }));
    return { username: a.email, id: a.id, groups: ['portal'], ...(plan ? { plan } : {}), ...(credentials ? { credentials: { 'key-auth': credentials } } : {}) };
  });
}

async function oneKey(q: Queries, id: string): Promise<PortalKey> {
  return keyOf((await q.all<KeyRow>(`SELECT ${KEY_COLUMNS} FROM ng_portal_keys WHERE id = ?`, [id]))[0]!);
}

function accountOf(r: AccountRow | undefined): PortalAccount | null {
  if (r === undefined) return null;
  return { id: r.id, email: r.email, role: r.role === 'admin' ? 'admin' : 'developer', passwordHash: r.password_hash, oidcSubject: r.oidc_subject, createdAt: r.created_at };
}

function keyOf(r: KeyRow): PortalKey {
  return { id: r.id, accountId: r.account_id, name: r.name, prefix: r.prefix, plan: r.plan, status: r.status as KeyStatus, createdAt: r.created_at, rotatedAt: r.rotated_at, revokedAt: r.revoked_at };
}
