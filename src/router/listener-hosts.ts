// Listener names by hostname (`listen.proxy[].sni_names`): several listeners that share one
// TLS port, told apart by the server name a client sends in its handshake (SNI), as the
// Gateway API's HTTPS listeners with hostnames are. The most specific hostname wins: an exact
// name, then the wildcard with the longest suffix ("*.a.b" covers one label or more before
// ".a.b"); a name none matches belongs to the port's own listener (null here).

export class ListenerHosts {
  readonly #exact = new Map<string, string>();
  /** Keyed by the suffix with its leading dot: "*.example.com" -> ".example.com". */
  readonly #wildcard = new Map<string, string>();
  /** Every name a hostname maps to. */
  readonly names: ReadonlySet<string>;
  /** The table as written, hostname -> name (what tells two tables apart on a reload). */
  readonly key: string;

  /** `entries`: lower-case hostnames, exact or "*."-wildcard, with the listener name each selects. */
  constructor(entries: ReadonlyArray<readonly [hostname: string, name: string]>) {
    for (const [host, name] of entries) {
      if (host.startsWith('*.')) this.#wildcard.set(host.slice(1), name);
      else this.#exact.set(host, name);
    }
    this.names = new Set(entries.map((e) => e[1]));
    this.key = JSON.stringify([...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }

  /** The name the most specific hostname matching `host` (lower case, no port) selects; null when none matches. */
  select(host: string): string | null {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    if (this.#wildcard.size === 0) return null;
    for (let dot = host.indexOf('.'); dot > 0; dot = host.indexOf('.', dot + 1)) {
      const name = this.#wildcard.get(host.slice(dot));
      if (name !== undefined) return name;
    }
    return null;
  }
}
