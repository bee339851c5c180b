// Certificates made with openssl in a temp dir, for TLS tests (as the mtls-auth test does).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './servers.js';

export class CertDir {
  readonly dir = tempDir('northgate-certs-');

  path(name: string): string {
    return join(this.dir, name);
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  #openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  /** A self-signed CA: `<name>.crt`, `<name>.key`. */
  ca(name: string): this {
    this.#openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', this.path(`${name}.key`), '-subj', `/CN=${name}`, '-days', '2', '-out', this.path(`${name}.crt`));
    return this;
  }

  /** A leaf certificate signed by `ca`, with optional SANs such as "DNS:a.test,IP:127.0.0.1". */
  leaf(name: string, cn: string, ca: string, san?: string): this {
    const p = (x: string) => this.path(`${name}.${x}`);
    this.#openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p('key'), '-subj', `/CN=${cn}`, '-out', p('csr'));
    writeFileSync(p('ext'), `basicConstraints=CA:FALSE\n${san ? `subjectAltName=${san}\n` : ''}`);
    this.#openssl('x509', '-req', '-in', p('csr'), '-CA', this.path(`${ca}.crt`), '-CAkey', this.path(`${ca}.key`), '-CAcreateserial', '-days', '2', '-out', p('crt'), '-extfile', p('ext'));
    return this;
  }
}
