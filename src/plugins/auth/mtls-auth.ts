// `mtls-auth`: the client certificate of a TLS listener with `client_ca` names the consumer.
// The TLS layer verifies the chain against the listener's client_ca (requests without a
// certificate still reach the gateway, so they get a 401 problem rather than a TLS alert);
// this plugin takes the identity from the verified certificate — its subject CN, a URI SAN
// (SPIFFE ids) or a DNS SAN — and looks the consumer up by username.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin } from '../../sdk/plugin.js';
import { INVALID, MISSING, quote, singleMethodHandler, type AuthMethod, type AuthResult } from './method.js';
import { mtlsAuthSchema, type MtlsAuthConfig } from './schemas.js';

function identityOf(cert: X509Certificate, by: NonNullable<MtlsAuthConfig['consumer_by']>): string | null {
  if (by === 'subject_cn') {
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
    return cn ? cn[1]! : null;
  }
  const prefix = by === 'san_uri' ? 'URI:' : 'DNS:';
  for (const entry of (cert.subjectAltName ?? '').split(', ')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return null;
}

export function mtlsAuthMethod(config: MtlsAuthConfig): AuthMethod {
  const by = config.consumer_by ?? 'subject_cn';
  const issuer = config.ca ? new X509Certificate(readFileSync(config.ca)) : null;
  const challenge = `MutualTLS realm=${quote(config.realm ?? 'northgate')}`;
  const authenticate = (ctx: PluginContext): AuthResult => {
    const tls = ctx.tlsPeer();
    if (tls === null) return MISSING;
    const peer = tls.certificate;
    // Presented but not verified against the listener's client_ca: refused.
    if (!tls.authorized) return INVALID;
    if (issuer !== null && !(peer.checkIssued(issuer) && peer.verify(issuer.publicKey))) return INVALID;
    const identity = identityOf(peer, by);
    const consumer = identity === null ? undefined : ctx.consumers.byUsername.get(identity);
    if (consumer === undefined) return INVALID;
    return { consumer, credential: { id: `${consumer.username}/mtls-auth/${peer.serialNumber}`, type: 'mtls-auth', consumer } };
  };
  return { name: 'mtls-auth', challenge, invalidChallenge: challenge, authenticate };
}

export const mtlsAuthPlugin: Plugin<MtlsAuthConfig> = {
  name: 'mtls-auth',
  priority: 1004,
  schema: mtlsAuthSchema,
  check(config) {
    if (config.ca === undefined) return [];
    try {
      new X509Certificate(readFileSync(config.ca));
      return [];
    } catch (err) {
      return [{ path: ['ca'], message: `cannot read a PEM certificate: ${(err as Error).message.split('\n')[0]}` }];
    }
  },
  create: (config) => singleMethodHandler(mtlsAuthMethod(config)),
};
