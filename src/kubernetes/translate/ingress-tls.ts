// An Ingress's `spec.tls`: each entry names a Secret of type kubernetes.io/tls in the
// Ingress's own namespace, whose certificate and key (PEM, checked to parse and to belong
// together) join the HTTPS listener's certificates; the listener picks one by SNI from the
// names the certificate carries. An entry whose Secret is missing or unusable adds nothing and
// is noted: its hosts stay served over plain HTTP, and over HTTPS only with a certificate
// another entry provides (as ingress-nginx, which then serves its default certificate).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KubeObject, ResourceSnapshot } from './model.js';

/** A certificate of a TLS listener, inline (PEM text, never written to disk). */
export interface ListenerCertificate {
  readonly cert_pem: string;
  readonly key_pem: string;
}

/** A Secret's name: a DNS-1123 subdomain, so never another namespace's ("ns/name"). */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_PEM_BYTES = 512 * 1024;

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The usable certificates of an Ingress's `spec.tls`, each with its Secret's namespace/name. */
export function ingressCertificates(ing: KubeObject, namespace: string, resources: ResourceSnapshot, note: (m: string) => void): Array<{ secret: string; certificate: ListenerCertificate }> {
  const out: Array<{ secret: string; certificate: ListenerCertificate }> = [];
  arr(rec(ing.spec).tls).forEach((entryValue, i) => {
    const entry = rec(entryValue);
    const secretName = entry.secretName;
    if (secretName === undefined) {
      note(`tls[${i}]: no secretName; its hosts are served without a certificate of their own`);
      return;
    }
    if (typeof secretName !== 'string' || secretName.length > 253 || !SECRET_NAME.test(secretName)) {
      note(`tls[${i}]: secretName ${JSON.stringify(String(secretName).slice(0, 260))} is not a Secret name in the Ingress's namespace`);
      return;
    }
    const secret = resources.get('Secret').find((s) => s.metadata.name === secretName && (s.metadata.namespace ?? 'default') === namespace);
    const read = secret === undefined ? { error: 'not found' } : certificateOf(secret);
    if ('error' in read) {
      note(`tls[${i}]: Secret ${namespace}/${secretName} ${read.error}; its hosts are served without it`);
      return;
    }
    const hosts = arr(entry.hosts).filter((h): h is string => typeof h === 'string');
    const uncovered = hosts.filter((h) => read.x509.checkHost(h.startsWith('*.') ? `x${h.slice(1)}` : h) === undefined);
    if (uncovered.length > 0) note(`tls[${i}]: the certificate of Secret ${namespace}/${secretName} does not name ${uncovered.slice(0, 8).join(', ')}`);
    out.push({ secret: `${namespace}/${secretName}`, certificate: read.certificate });
  });
  return out;
}

function certificateOf(secret: KubeObject): { certificate: ListenerCertificate; x509: X509Certificate } | { error: string } {
  if (secret['type'] !== 'kubernetes.io/tls') return { error: 'is not of type kubernetes.io/tls' };
  const data = rec(secret['data']);
  const cert = decode(data['tls.crt']);
  const key = decode(data['tls.key']);
  if (cert === undefined || key === undefined) return { error: 'has no tls.crt and tls.key' };
  try {
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) return { error: 'holds a key that does not belong to its certificate' };
    return { certificate: { cert_pem: cert, key_pem: key }, x509 };
  } catch {
    return { error: 'does not hold a PEM certificate and key' };
  }
}

/** A Secret's data value: base64 of PEM text. */
function decode(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > (MAX_PEM_BYTES * 4) / 3 + 4) return undefined;
  const text = Buffer.from(v, 'base64').toString('utf8');
  return text.includes('-----BEGIN ') ? text : undefined;
}
