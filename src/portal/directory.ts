// Accounts, their API keys and access requests: what the portal reads and writes about
// developers. A portal account is a consumer (same id); each active key is a key-auth
// credential of it. Implemented on the portal's database by store/directory.ts.
import { createHash, randomBytes } from 'node:crypto';
import type { RawConsumer } from '../config/types.js';

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
