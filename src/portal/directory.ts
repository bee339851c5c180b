// Accounts, their API keys and access requests: what the portal reads and writes about
// developers. A portal account is a consumer (same id); each active key is a key-auth
// credential of it. The interface is narrow so the config store (admin issue) can back it;
// MemoryDirectory is the in-process implementation used until then (see docs/portal.md).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RawConsumer } from '../consumers/schema.js';

export type Role = 'developer' | 'admin';
export type KeyStatus = 'active' | 'pending' | 'revoked' | 'rejected';

export interface PortalAccount {
  readonly id: string;
  readonly email: string;
  readonly role: Role;
  /** scrypt hash (`scrypt:N:r:p:salt:hash`), or null for accounts that only sign in through OIDC. */
  readonly passwordHash: string | null;
  /** `issuer|subject` of an OIDC identity, or null. */
  readonly oidcSubject: string | null;
  readonly createdAt: string;
}

export interface PortalKey {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  /** The first characters of the key, the only part ever shown again. */
  readonly prefix: string;
  readonly plan: string | null;
  readonly status: KeyStatus;
  readonly createdAt: string;
  readonly rotatedAt: string | null;
  readonly revokedAt: string | null;
}

export class DirectoryConflict extends Error {}

export interface PortalDirectory {
  findAccountByEmail(email: string): Promise<PortalAccount | null>;
  findAccountById(id: string): Promise<PortalAccount | null>;
  findAccountBySubject(subject: string): Promise<PortalAccount | null>;
  /** Throws DirectoryConflict when the email is taken. */
  createAccount(input: { email: string; role: Role; passwordHash: string | null; oidcSubject: string | null }): Promise<PortalAccount>;
  listAccounts(): Promise<PortalAccount[]>;
  listKeys(accountId: string | null): Promise<PortalKey[]>;
  /** Stores a new key; `secret` is the full key, which an implementation keeps only as a digest. */
  createKey(accountId: string, input: { name: string; plan: string | null; status: KeyStatus; secret: string }): Promise<PortalKey>;
  /** Replaces a key's secret (same id, name and plan); null when the account has no such active key. */
  rotateKey(accountId: string, keyId: string, secret: string): Promise<PortalKey | null>;
  /** Sets a key's status; `accountId` null means an operator (any account). Null when not found. */
  setKeyStatus(accountId: string | null, keyId: string, status: KeyStatus): Promise<PortalKey | null>;
  /** Called after every change that affects which keys are valid on the gateway. */
  onChange(listener: () => void): void;
  /** The consumers the gateway must know: one per account, with its active keys. */
  consumers(): RawConsumer[];
}

/** A new API key: "ng_" and 32 random bytes in base64url (256 bits). */
export function newSecret(): string {
  return 'ng_' + randomBytes(32).toString('base64url');
}

export const PREFIX_LENGTH = 10;

/** The stored form of a key (`key_digest` in the consumers' schema): the key itself is never kept. */
export function keyDigestText(secret: string): string {
  return 'sha256:' + createHash('sha256').update(secret).digest('base64');
}

interface StoredKey extends PortalKey {
  readonly digest: string;
}

/** In memory, per process: accounts and keys are lost on restart; keys are kept as digests. */
export class MemoryDirectory implements PortalDirectory {
  readonly #accounts = new Map<string, PortalAccount>();
  readonly #byEmail = new Map<string, string>();
  readonly #keys = new Map<string, StoredKey>();
  readonly #listeners: Array<() => void> = [];

  async findAccountByEmail(email: string): Promise<PortalAccount | null> {
    const id = this.#byEmail.get(email.toLowerCase());
    return id === undefined ? null : this.#accounts.get(id)!;
  }
  async findAccountById(id: string): Promise<PortalAccount | null> {
    return this.#accounts.get(id) ?? null;
  }
  async findAccountBySubject(subject: string): Promise<PortalAccount | null> {
    for (const a of this.#accounts.values()) if (a.oidcSubject === subject) return a;
    return null;
  }
  async createAccount(input: { email: string; role: Role; passwordHash: string | null; oidcSubject: string | null }): Promise<PortalAccount> {
    const email = input.email.toLowerCase();
    if (this.#byEmail.has(email)) throw new DirectoryConflict('an account with this email exists');
    const account: PortalAccount = Object.freeze({ id: randomUUID(), email, role: input.role, passwordHash: input.passwordHash, oidcSubject: input.oidcSubject, createdAt: new Date().toISOString() });
    this.#accounts.set(account.id, account);
    this.#byEmail.set(email, account.id);
    this.#changed();
    return account;
  }
  async listAccounts(): Promise<PortalAccount[]> {
    return [...this.#accounts.values()];
  }
  async listKeys(accountId: string | null): Promise<PortalKey[]> {
    return [...this.#keys.values()].filter((k) => accountId === null || k.accountId === accountId).map(publicKey);
  }
  async createKey(accountId: string, input: { name: string; plan: string | null; status: KeyStatus; secret: string }): Promise<PortalKey> {
    const now = new Date().toISOString();
    const key: StoredKey = { id: randomUUID(), accountId, name: input.name, prefix: input.secret.slice(0, PREFIX_LENGTH), plan: input.plan, status: input.status, createdAt: now, rotatedAt: null, revokedAt: null, digest: keyDigestText(input.secret) };
    this.#keys.set(key.id, key);
    if (key.status === 'active') this.#changed();
    return publicKey(key);
  }
  async rotateKey(accountId: string, keyId: string, secret: string): Promise<PortalKey | null> {
    const k = this.#keys.get(keyId);
    if (k === undefined || k.accountId !== accountId || k.status !== 'active') return null;
    const next: StoredKey = { ...k, digest: keyDigestText(secret), prefix: secret.slice(0, PREFIX_LENGTH), rotatedAt: new Date().toISOString() };
    this.#keys.set(keyId, next);
    this.#changed();
    return publicKey(next);
  }
  async setKeyStatus(accountId: string | null, keyId: string, status: KeyStatus): Promise<PortalKey | null> {
    const k = this.#keys.get(keyId);
    if (k === undefined || (accountId !== null && k.accountId !== accountId)) return null;
    const next: StoredKey = { ...k, status, revokedAt: status === 'revoked' ? new Date().toISOString() : k.revokedAt };
    this.#keys.set(keyId, next);
    this.#changed();
    return publicKey(next);
  }
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }
  consumers(): RawConsumer[] {
    const keys = new Map<string, Array<{ id: string; key_digest: string; key_prefix: string }>>();
    for (const k of this.#keys.values()) {
      if (k.status !== 'active') continue;
      let list = keys.get(k.accountId);
      if (list === undefined) keys.set(k.accountId, (list = []));
      list.push({ id: k.id, key_digest: k.digest, key_prefix: k.prefix.slice(0, 8) });
    }
    return [...this.#accounts.values()].map((a) => {
      const own = keys.get(a.id);
      const plan = [...this.#keys.values()].find((k) => k.accountId === a.id && k.status === 'active' && k.plan !== null)?.plan;
      return { username: a.email, id: a.id, groups: ['portal'], ...(plan ? { plan } : {}), ...(own ? { credentials: { 'key-auth': own } } : {}) };
    });
  }
  #changed(): void {
    for (const l of this.#listeners) l();
  }
}

function publicKey(k: StoredKey): PortalKey {
  const { digest: _digest, ...rest } = k;
  return rest;
}
