// The config of `openid-connect`: the provider and the gateway's client at it, the session
// cookie, where sessions live, the paths the plugin answers itself, and what the upstream
// gets. Durations and limits default in DEFAULTS; compile.ts turns a config into numbers once.
import { DURATION_PATTERN } from '../../base/duration.js';
import { redisConnectionSchema } from '../../base/redis.js';
import { HTTP_TOKEN_CHAR, headerNameSchema } from '../../base/schema-defs.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 30s, 10m, 8h' };
const httpUrl = { type: 'string', pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL' };
const localPath = { type: 'string', pattern: '^/[\\x21-\\x7e]*$', 'x-message': 'must be a path starting with /' };
/** RFC 6265 cookie-name: an HTTP token. */
const cookieName = { type: 'string', pattern: `^${HTTP_TOKEN_CHAR}{1,64}$`, 'x-message': 'must be a cookie name (an HTTP token of at most 64 characters)' };

export const openidConnectSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'client_id', 'redirect_uri', 'cookie'],
  properties: {
    /** The provider's issuer URL; its discovery document is read from /.well-known/openid-configuration. */
    issuer: httpUrl,
    client_id: { type: 'string', minLength: 1 },
    /** The client secret (write it as ${ENV}); none for a public client. */
    client_secret: { type: 'string', minLength: 1 },
    /** The callback URL registered at the provider; the plugin answers its path. */
    redirect_uri: httpUrl,
    scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' } },
    /** Every call to the provider (discovery, token, keys): connect and answer together. */
    timeout: duration,
    /** Refresh the access token when it has less than this left. */
    refresh_before: duration,
    cookie: {
      type: 'object',
      additionalProperties: false,
      required: ['secret'],
      properties: {
        name: cookieName,
        /** Signs the cookie: at least 32 characters (write it as ${ENV}); the same on every node. */
        secret: { type: 'string', minLength: 32, 'x-message': 'must be at least 32 characters' },
        path: localPath,
        /** Drops the Secure attribute: only for a gateway tried over plain http on a developer's machine. */
        dangerously_allow_plain_http: { type: 'boolean' },
      },
    },
    session: {
      type: 'object',
      additionalProperties: false,
      properties: {
        /** A session ends this long after the sign-in, whatever refreshes happened. */
        ttl: duration,
        /** How long a process may serve a session from its own copy (sqlite, redis, postgres): a session ended on another worker or node stops working here within this; 0s reads the store on every request. */
        cache_ttl: duration,
        store: { enum: ['memory', 'sqlite', 'redis', 'postgres'] },
        /** The SQLite file (store: sqlite). */
        path: { type: 'string', minLength: 1 },
        redis: redisConnectionSchema,
        postgres: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', pattern: '^postgres(ql)?://', 'x-message': 'must be a postgres:// URL' },
            timeout: duration,
            table: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$', 'x-message': 'must be a lower-case SQL identifier' },
          },
        },
        /** At most this many sessions in the store; a sign-in beyond it is refused (503). */
        max_sessions: { type: 'integer', minimum: 1, maximum: 10_000_000 },
        /** Sign-ins started and not yet back from the provider: at most this many (the oldest give way), each for at most login_ttl. */
        max_pending_logins: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        login_ttl: duration,
      },
    },
    /** A path that starts a sign-in, back to `?return_to=/a/path` of this site afterwards. */
    login_path: localPath,
    /** RP-initiated logout: ends the session, then sends the browser to the provider's end_session_endpoint. */
    logout_path: localPath,
    /** Where the provider sends the browser after its logout (registered at the provider). */
    post_logout_redirect_uri: httpUrl,
    /** OpenID Connect Front-Channel Logout: the provider loads this path with ?iss=&sid=. */
    frontchannel_logout_path: localPath,
    /** OpenID Connect Back-Channel Logout: the provider POSTs a logout token here. */
    backchannel_logout_path: localPath,
    /** The claim that names the consumer (a configured consumer's id or username, else an external one). */
    consumer_claim: { type: 'string', minLength: 1 },
    /** Upstream header -> ID token claim. Client-sent copies are always removed. */
    claim_headers: { type: 'object', propertyNames: headerNameSchema, additionalProperties: { type: 'string', minLength: 1 } },
    /** Send the access token upstream as Authorization: Bearer (replacing the client's Authorization). */
    forward_access_token: { type: 'boolean' },
    /** Send the ID token upstream in this header. */
    id_token_header: headerNameSchema,
  },
};

export type SessionStoreKind = 'memory' | 'sqlite' | 'redis' | 'postgres';

export interface OpenidConnectConfig {
  issuer: string;
  client_id: string;
  client_secret?: string;
  redirect_uri: string;
  scopes?: string[];
  timeout?: string;
  refresh_before?: string;
  cookie: { name?: string; secret: string; path?: string; dangerously_allow_plain_http?: boolean };
  session?: {
    ttl?: string;
    cache_ttl?: string;
    store?: SessionStoreKind;
    path?: string;
    redis?: { url: string; timeout?: string; prefix?: string };
    postgres?: { url: string; timeout?: string; table?: string };
    max_sessions?: number;
    max_pending_logins?: number;
    login_ttl?: string;
  };
  login_path?: string;
  logout_path?: string;
  post_logout_redirect_uri?: string;
  frontchannel_logout_path?: string;
  backchannel_logout_path?: string;
  consumer_claim?: string;
  claim_headers?: Record<string, string>;
  forward_access_token?: boolean;
  id_token_header?: string;
}

export const DEFAULTS = {
  scopes: ['openid'],
  timeout: '10s',
  refreshBefore: '60s',
  cookieName: 'ng_oidc',
  cookiePath: '/',
  ttl: '8h',
  cacheTtl: '1s',
  store: 'memory',
  sqlitePath: 'northgate-oidc.sqlite',
  redisTimeout: '500ms',
  redisPrefix: 'northgate:oidc:',
  pgTimeout: '1s',
  pgTable: 'northgate_oidc_sessions',
  maxSessions: 100_000,
  maxPendingLogins: 10_000,
  loginTtl: '10m',
  consumerClaim: 'sub',
} as const;
