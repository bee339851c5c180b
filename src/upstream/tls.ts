// TLS towards upstreams: the per-upstream `tls` block compiled once into connect options
// (CA, client certificate for mTLS, SNI name, verification) and an optional check of the
// upstream certificate's SAN (a SPIFFE ID as a service mesh issues them). Files are read at
// compile time, so a reload picks up renewed certificates; the key names the options, so an
// unchanged block keeps its warm pool across reloads and a changed one gets a new pool.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { RawUpstreamTls } from '../config/types.js';

export interface UpstreamTls {
  /** Identifies these options (file contents included) in the pool registry. */
  readonly key: string;
  readonly connect: ConnectionOptions;
}

/** The error code of an upstream certificate whose SAN is not the expected one. */
export const SAN_MISMATCH = 'ERR_NORTHGATE_UPSTREAM_SAN_MISMATCH';

export function compileUpstreamTls(raw: RawUpstreamTls | undefined): UpstreamTls | null {
  if (raw === undefined) return null;
  const ca = raw.ca !== undefined ? readFileSync(raw.ca, 'utf8') : undefined;
  const cert = raw.client_cert !== undefined ? readFileSync(raw.client_cert, 'utf8') : undefined;
  const key = raw.client_key !== undefined ? readFileSync(raw.client_key, 'utf8') : undefined;
  const verify = raw.verify ?? true;
  const expected = raw.expect_san;
  const connect: ConnectionOptions = {
    rejectUnauthorized: verify,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    ...(raw.servername !== undefined ? { servername: raw.servername } : {}),
    ...(expected !== undefined ? { checkServerIdentity: (_host: string, peer: PeerCertificate) => checkSan(peer, expected) } : {}),
  };
  const id = createHash('sha256')
    .update(JSON.stringify([ca ?? null, cert ?? null, key ?? null, raw.servername ?? null, verify, expected ?? null]))
    .digest('base64url')
    .slice(0, 22);
  return { key: id, connect };
}

/**
 * With expect_san the SAN replaces the host-name check (mesh certificates carry a SPIFFE
 * URI, rarely the DNS name the gateway dialled); the chain is still verified against `ca`.
 */
export function checkSan(peer: PeerCertificate, expected: string): Error | undefined {
  const names = (peer.subjectaltname ?? '').split(', ');
  for (const n of names) {
    const colon = n.indexOf(':');
    if (colon !== -1 && n.slice(colon + 1) === expected) return undefined;
  }
  const err = new Error(`the upstream certificate does not carry the SAN ${expected}`) as NodeJS.ErrnoException;
  err.code = SAN_MISMATCH;
  return err;
}
