// What a session tells the upstream, and how it is put on the upstream request. The headers
// a session gives (X-Consumer-*, the configured claim headers, the ID token, the access
// token) are worked out once per session object — a process's copy of a session serves many
// requests — as one flat list that a request appends in one step, after one pass over the
// upstream headers that drops the client's copies of those names and the gateway's cookies.
import type { Consumer, ConsumerDirectory } from '../../sdk/consumer.js';
import type { HeaderList } from '../../sdk/header-list.js';
import { isCookieName, stripCookies } from './cookies.js';
import type { SessionData } from './session-store.js';
import type { Settings } from './settings.js';

const MAX_FORWARDED_VALUE = 4096;
/** Visible ASCII and spaces: what every HTTP stack accepts in a field value. */
const SAFE_HEADER_VALUE = /^[\x20-\x7e]*$/;
const SAFE_CONSUMER = /^[^\u0000-\u001f\u007f,]+$/;
/** Set by the gateway for an authenticated request, never taken from the client. */
const CONSUMER_HEADERS = ['x-consumer-id', 'x-consumer-username', 'x-consumer-groups'];

/** A claim as a header value, or null when it is absent or could not be sent safely. */
function claimText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const text = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return text.length <= MAX_FORWARDED_VALUE && SAFE_HEADER_VALUE.test(text) ? text : null;
}

/** What a session tells the upstream. */
export interface Identity {
  /** The consumers it was looked up in (a reload brings others). */
  readonly directory: ConsumerDirectory;
  readonly consumer: Consumer | null;
  /** [header, value, ...]: what the upstream gets, names in lower case. */
  readonly headers: readonly string[];
}

/** The identities of sessions, and the upstream headers they give, for one plugin instance. */
export class Identities {
  readonly #s: Settings;
  readonly #byLength: ReadonlyArray<ReadonlySet<string> | undefined>;
  readonly #cookies: readonly string[];
  readonly #cookieName: string;
  readonly #of = new WeakMap<SessionData, Identity>();

  constructor(s: Settings) {
    this.#s = s;
    const replaced = [...CONSUMER_HEADERS, ...s.claimHeaders.map(([h]) => h), ...(s.idTokenHeader === null ? [] : [s.idTokenHeader]), ...(s.forwardAccessToken ? ['authorization'] : [])];
    // By length, so that most header names are passed over without a lower-case copy.
    const byLength: Array<Set<string> | undefined> = [];
    for (const name of replaced) (byLength[name.length] ??= new Set()).add(name);
    this.#byLength = byLength;
    // The login cookie's name starts with the session cookie's: a field without the one has neither.
    this.#cookies = [s.cookies.name, s.cookies.loginName];
    this.#cookieName = s.cookies.name;
  }

  /** The identity of `session` as the consumers of `directory` see it. */
  of(directory: ConsumerDirectory, session: SessionData): Identity {
    const known = this.#of.get(session);
    if (known !== undefined && known.directory === directory) return known;
    const s = this.#s;
    const consumer = this.#consumerOf(directory, session.claims);
    const headers: string[] = [];
    if (consumer !== null) {
      headers.push('x-consumer-id', consumer.id, 'x-consumer-username', consumer.username);
      if (consumer.groupsHeader !== '') headers.push('x-consumer-groups', consumer.groupsHeader);
    }
    for (const [name, claim] of s.claimHeaders) {
      const text = claimText(session.claims[claim]);
      if (text !== null) headers.push(name, text);
    }
    if (s.idTokenHeader !== null) headers.push(s.idTokenHeader, session.idToken);
    if (s.forwardAccessToken) headers.push('authorization', `Bearer ${session.accessToken}`);
    const identity: Identity = { directory, consumer, headers };
    this.#of.set(session, identity);
    return identity;
  }

  #consumerOf(directory: ConsumerDirectory, claims: Readonly<Record<string, unknown>>): Consumer | null {
    const v = claims[this.#s.consumerClaim];
    if (typeof v !== 'string' || v === '' || v.length > 256 || !SAFE_CONSUMER.test(v)) return null;
    return directory.byId.get(v) ?? directory.byUsername.get(v) ?? { id: v, username: v, groups: new Set(), groupsHeader: '', plan: null, kind: 'external' };
  }

  /**
   * The upstream headers of `identity`: in one pass, the fields of the names it may set go
   * (whatever the client or an earlier plugin put there) and the gateway's cookies are taken
   * out of the Cookie fields; then its fields are appended.
   */
  apply(h: HeaderList, identity: Identity): void {
    const raw = h.raw;
    const byLength = this.#byLength;
    let ourCookie = false;
    let w = 0;
    for (let r = 0; r < raw.length; r += 2) {
      const n = raw[r]!;
      const names = byLength[n.length];
      if (names !== undefined && names.has(n.toLowerCase())) continue;
      if (!ourCookie && isCookieName(n) && raw[r + 1]!.includes(this.#cookieName)) ourCookie = true;
      if (w !== r) {
        raw[w] = n;
        raw[w + 1] = raw[r + 1]!;
      }
      w += 2;
    }
    if (w !== raw.length) raw.length = w;
    if (ourCookie) stripCookies(h, this.#cookies);
    const add = identity.headers;
    for (let i = 0; i < add.length; i++) raw.push(add[i]!);
  }
}
