// Checks on `consumers:` that the schema cannot express: unique usernames, ids, keys and
// key ids, and JWT credentials whose key fits their algorithm.
import { createHash, createPublicKey } from 'node:crypto';
import type { RawConsumer, RawJwtCredential } from '../config/types.js';
import { consumerIdFor, parsePasswordHash, SCRYPT } from './index.js';

type Add = (path: Array<string | number>, message: string) => void;

export function checkConsumers(consumers: RawConsumer[] | undefined, add: Add): void {
  const usernames = new Map<string, number>();
  const ids = new Map<string, number>();
  const keys = new Map<string, string>();
  const basicUsers = new Map<string, string>();
  const kids = new Map<string, string>();
  const issuers = new Map<string, string>();
  (consumers ?? []).forEach((c, i) => {
    const at = ['consumers', i];
    const dupName = usernames.has(c.username);
    if (dupName) add([...at, 'username'], `duplicate consumer username "${c.username}" (first at consumers[${usernames.get(c.username)}])`);
    else usernames.set(c.username, i);
    const id = c.id ?? consumerIdFor(c.username);
    if (ids.has(id) && (c.id !== undefined || !dupName)) add([...at, c.id === undefined ? 'username' : 'id'], `duplicate consumer id "${id}" (first at consumers[${ids.get(id)}])`);
    else ids.set(id, i);
    const creds = c.credentials ?? {};
    (creds['key-auth'] ?? []).forEach((k, j) => {
      const where = `consumers[${i}].credentials.key-auth[${j}]`;
      if ((k.key === undefined) === (k.key_digest === undefined)) {
        add([...at, 'credentials', 'key-auth', j], k.key === undefined ? 'missing required key "key"' : 'has both "key" and "key_digest"; give one');
        return;
      }
      // Compared by digest so that the message never has to repeat the key.
      const d = k.key !== undefined ? createHash('sha256').update(k.key).digest('base64') : k.key_digest!.slice('sha256:'.length);
      const first = keys.get(d);
      if (first !== undefined) add([...at, 'credentials', 'key-auth', j, 'key'], `duplicate key (same as ${first}); every key must identify one consumer`);
      else keys.set(d, where);
    });
    (creds['basic-auth'] ?? []).forEach((b, j) => {
      if ((b.password === undefined) === (b.password_hash === undefined)) {
        add([...at, 'credentials', 'basic-auth', j], b.password === undefined ? 'missing required key "password"' : 'has both "password" and "password_hash"; give one');
      } else if (b.password_hash !== undefined && parsePasswordHash(b.password_hash) === null) {
        add([...at, 'credentials', 'basic-auth', j, 'password_hash'], `must be a ${SCRYPT.keylen}-byte scrypt hash with N=${SCRYPT.N}, r=${SCRYPT.r}, p=${SCRYPT.p}`);
      }
      const first = basicUsers.get(b.username);
      if (first !== undefined) add([...at, 'credentials', 'basic-auth', j, 'username'], `duplicate basic-auth username "${b.username}" (first at ${first})`);
      else basicUsers.set(b.username, `consumers[${i}].credentials.basic-auth[${j}]`);
    });
    (creds.jwt ?? []).forEach((j, k) => {
      const jat = [...at, 'credentials', 'jwt', k];
      const where = `consumers[${i}].credentials.jwt[${k}]`;
      checkJwtCredential(j, jat, add);
      if (j.key_id !== undefined) {
        const first = kids.get(j.key_id);
        if (first !== undefined) add([...jat, 'key_id'], `duplicate key_id "${j.key_id}" (first at ${first})`);
        else kids.set(j.key_id, where);
      } else if (j.issuer !== undefined) {
        const first = issuers.get(j.issuer);
        if (first !== undefined) add([...jat, 'issuer'], `issuer "${j.issuer}" is already used by ${first} without a key_id; give each credential a key_id`);
        else issuers.set(j.issuer, where);
      }
    });
  });
}

function checkJwtCredential(j: RawJwtCredential, at: Array<string | number>, add: Add): void {
  if (j.issuer === undefined && j.key_id === undefined) add(at, 'needs "key_id" (matched against the token\'s kid) or "issuer" (matched against its iss), or both');
  const hmac = j.algorithm.startsWith('HS');
  if (hmac) {
    if (j.secret === undefined || j.public_key !== undefined) return add(at, `${j.algorithm} needs "secret" (and no "public_key")`);
    if (Buffer.byteLength(j.secret) < 32) add([...at, 'secret'], `must be at least 32 bytes for ${j.algorithm}`);
    return;
  }
  if (j.public_key === undefined || j.secret !== undefined) return add(at, `${j.algorithm} needs "public_key" (PEM, and no "secret")`);
  const message = publicKeyProblem(j.public_key, j.algorithm);
  if (message) add([...at, 'public_key'], message);
}

const KEY_TYPES: Record<string, string[]> = { RS: ['rsa'], PS: ['rsa', 'rsa-pss'], ES: ['ec'], Ed: ['ed25519', 'ed448'] };
const CURVES: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

export function publicKeyProblem(pem: string, algorithm: string): string | undefined {
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'is not a PEM public key';
  }
  const types = KEY_TYPES[algorithm.slice(0, 2)]!;
  if (!types.includes(key.asymmetricKeyType!)) return `is a ${key.asymmetricKeyType} key, which ${algorithm} cannot use`;
  const curve = CURVES[algorithm];
  if (curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== curve) return `${algorithm} needs a key on curve ${curve}`;
  return undefined;
}
