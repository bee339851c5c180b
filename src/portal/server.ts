// The portal listener (`listen.portal`): pages, static assets and the JSON API, with
// server-side sessions in an HttpOnly SameSite=Lax cookie and a CSRF token required on
// every state-changing call. It reads the gateway's live snapshot on each request.
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { RequestContext } from '../proxy/context.js';
import { unmapIPv4 } from '../proxy/context.js';
import type { ProxySnapshot } from '../proxy/snapshot.js';
import type { Logger } from '../base/logger.js';
import { API_ROUTES, type ApiContext } from './api.js';
import type { PortalAccount, PortalDirectory } from './directory.js';
import { PortalError, cookies, sendProblem } from './http.js';
import { PAGES, renderPage } from './pages.js';
import type { Session, SessionStore } from './sessions.js';
import type { PortalSettings } from './settings.js';
import { SignInThrottle } from './throttle.js';
import type { MeteringSettings } from '../metering/config.js';
import { NO_USAGE, type UsageSource } from './usage.js';
import { MeteringUsage } from './metering-usage.js';
import { CALLBACK_PATH, OidcSignIn } from './oidc.js';

/** What the portal reads of a snapshot (the compiler's Snapshot extends it): consumers, the router and path policy (try-it), its own settings. */
export interface PortalSnapshot extends ProxySnapshot {
  /** The developer portal (`portal:`), or null when it is off. */
  readonly portal: PortalSettings | null;
}

export interface PortalGateway {
  readonly snapshot: PortalSnapshot;
  /** Where the gateway's first proxy listener is bound (http://127.0.0.1:PORT), or null. */
  proxyUrl(): string | null;
  /** Whether a request came through this gateway's listeners (tests run several gateways in one process). */
  owns(ctx: RequestContext): boolean;
  /** The metering store the gateway writes to (the portal's usage reads it), or null when metering is off. */
  readonly metering: MeteringSettings | null;
  /** Writes this process's metered usage so far. */
  flushUsage(): Promise<void>;
}

export interface PortalDeps {
  readonly directory: PortalDirectory;
  readonly sessions: SessionStore;
  readonly usage?: UsageSource;
}

const require = createRequire(import.meta.url);
const STATIC_DIR = fileURLToPath(new URL('../../../src/portal/static/', import.meta.url));
const ASSETS: Record<string, { file: string; type: string }> = {
  '/assets/portal.js': { file: STATIC_DIR + 'portal.js', type: 'text/javascript; charset=utf-8' },
  '/assets/portal.css': { file: STATIC_DIR + 'portal.css', type: 'text/css; charset=utf-8' },
  '/assets/uPlot.iife.min.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class Portal {
  readonly directory: PortalDirectory;
  readonly usage: UsageSource;
  readonly sessions: SessionStore;
  readonly #gateway: PortalGateway;
  readonly #logger: Logger;
  #throttle: SignInThrottle | null = null;
  #server: Server | null = null;
  readonly #assets = new Map<string, Buffer>();
  readonly #oidc = new OidcSignIn();

  constructor(gateway: PortalGateway, logger: Logger, deps: PortalDeps) {
    this.#gateway = gateway;
    this.#logger = logger;
    this.directory = deps.directory;
    const metering = gateway.metering;
    // The metering store (every worker and node); nothing when `metering: { enabled: false }` turned it off.
    this.usage =
      deps.usage ??
      (metering !== null
        ? new MeteringUsage(
            metering,
            { username: (id) => gateway.snapshot.consumers.byId.get(id)?.username ?? null, id: (name) => gateway.snapshot.consumers.byUsername.get(name)?.id ?? null },
            () => gateway.flushUsage(),
          )
        : NO_USAGE);
    this.sessions = deps.sessions;
  }

  get #settings(): PortalSettings | null {
    return this.#gateway.snapshot.portal;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const spec = this.#settings!.listen;
    const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384 }, (req, res) => {
      this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
    });
    server.maxConnections = 1024;
    server.setTimeout(60_000);
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: spec.host, port: spec.port }, () => {
        server.off('error', reject);
        const a = server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : spec.port);
      });
    });
    this.#server = server;
    return { host: spec.host, port };
  }

  async close(): Promise<void> {
    this.usage.close();
    const s = this.#server;
    if (s === null) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  #fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof PortalError) return sendProblem(res, err);
    this.#logger.error({ err }, 'portal: uncaught error');
    sendProblem(res, new PortalError('internal-error'));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const settings = this.#settings;
    if (settings === null) throw new PortalError('not-found', 'the portal is off in the current config');
    const url = new URL(req.url ?? '/', 'http://portal.invalid');
    const method = req.method ?? 'GET';
    const asset = ASSETS[url.pathname];
    if (asset !== undefined && (method === 'GET' || method === 'HEAD')) return this.#sendAsset(res, url.pathname, asset);
    if (url.pathname === '/assets/brand.css' && (method === 'GET' || method === 'HEAD')) return sendBrandCss(res, settings);

    const secure = settings.cookieSecure === true || (settings.cookieSecure === 'auto' && settings.url?.startsWith('https:') === true);
    const cookieName = secure ? '__Host-ng_portal' : 'ng_portal';
    const cookieFor = (s: Session | null): string =>
      s === null
        ? `${cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`
        : `${cookieName}=${s.id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(settings.sessionTtlMs / 1000)}${secure ? '; Secure' : ''}`;
    let session = await this.sessions.get(cookies(req).get(cookieName) ?? '');
    let account: PortalAccount | null = null;
    if (session?.accountId) {
      account = await this.directory.findAccountById(session.accountId);
      if (account !== null && settings.admins.has(account.email) && account.role !== 'admin') account = { ...account, role: 'admin' };
    }

    const isStart = url.pathname === '/portal/api/oidc/start';
    if ((isStart || url.pathname === CALLBACK_PATH) && method === 'GET') {
      if (settings.oidc === null) throw new PortalError('not-found', 'sign-in through OIDC is not configured (portal.oidc)');
      if (isStart) {
        if (session === null) {
          session = await this.sessions.create(null, settings.sessionTtlMs);
          res.setHeader('set-cookie', cookieFor(session));
        }
        return this.#oidc.start(settings, session, this.sessions, req, res);
      }
      if (session === null) throw new PortalError('bad-request', 'no sign-in in progress (the session cookie is missing); start again');
      const signedIn = await this.#oidc.callback(settings, session, this.sessions, req, this.directory);
      await this.sessions.destroy(session.id);
      const next = await this.sessions.create(signedIn.id, settings.sessionTtlMs);
      res.writeHead(302, { location: '/keys', 'set-cookie': cookieFor(next), 'cache-control': 'no-store' });
      res.end();
      return;
    }

    if (url.pathname.startsWith('/portal/api/')) {
      const matching = API_ROUTES.filter((r) => r.pattern.test(url.pathname));
      if (matching.length === 0) throw new PortalError('not-found', 'no such portal endpoint (see docs/portal.md)');
      const route = matching.find((r) => r.method === method);
      if (route === undefined) {
        const allow = matching.map((r) => r.method).join(', ');
        throw new PortalError('method-not-allowed', `${url.pathname} takes ${allow}`, { allow });
      }
      if (UNSAFE.has(method)) this.#checkCsrf(req, session);
      // Only GET /portal/api/session opens a stored session (state-changing calls need one
      // already, for their CSRF token): reading the catalog cannot fill the session table.
      let opened = false;
      if (session === null && route.opensSession === true) {
        session = await this.sessions.create(null, settings.sessionTtlMs);
        opened = true;
      }
      session ??= { id: '', accountId: null, csrf: '', expiresAt: 0, oidc: null };
      if (route.auth !== 'none' && account === null) throw new PortalError('unauthorized', 'sign in first');
      if (route.auth === 'admin' && account!.role !== 'admin') throw new PortalError('forbidden', 'operators only');
      const ctx: ApiContext = {
        req,
        res,
        url,
        snapshot: this.#gateway.snapshot,
        settings,
        session,
        account,
        clientIp: unmapIPv4(req.socket.remoteAddress ?? ''),
        directory: this.directory,
        usage: this.usage,
        throttle: this.#throttleFor(settings),
        renewSession: async (accountId) => {
          if (session!.id !== '') await this.sessions.destroy(session!.id);
          const next = await this.sessions.create(accountId, settings.sessionTtlMs);
          res.setHeader('set-cookie', cookieFor(next));
          return next;
        },
        baseUrl: this.#baseUrl(settings),
        proxyUrl: this.#gateway.proxyUrl(),
      };
      if (opened) res.setHeader('set-cookie', cookieFor(session));
      await route.handler(ctx, route.pattern.exec(url.pathname)!.slice(1));
      return;
    }

    if (method !== 'GET' && method !== 'HEAD') throw new PortalError('method-not-allowed', 'pages take GET', { allow: 'GET, HEAD' });
    const page = PAGES.find((p) => p.pattern.test(url.pathname));
    if (page === undefined) throw new PortalError('not-found', 'no such page');
    renderPage({ res, url, settings, account, baseUrl: this.#baseUrl(settings) }, page);
  }

  /** The session's token in X-CSRF-Token, and when the browser says where the call comes from, this origin. */
  #checkCsrf(req: IncomingMessage, session: Session | null): void {
    const sent = req.headers['x-csrf-token'];
    if (session === null || typeof sent !== 'string') throw new PortalError('csrf-failed', 'missing session or X-CSRF-Token header; GET /portal/api/session gives the token');
    const a = Buffer.from(sent);
    const b = Buffer.from(session.csrf);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new PortalError('csrf-failed', 'the X-CSRF-Token header does not match the session');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        throw new PortalError('csrf-failed', 'bad Origin header');
      }
      if (host !== req.headers.host) throw new PortalError('csrf-failed', 'cross-origin call refused');
    }
  }

  #throttleFor(settings: PortalSettings): SignInThrottle {
    const l = settings.signInLimits;
    const t = this.#throttle;
    if (t === null || t.limits.perAccount !== l.perAccount || t.limits.perIp !== l.perIp || t.limits.windowMs !== l.windowMs) this.#throttle = new SignInThrottle(l);
    return this.#throttle!;
  }

  #baseUrl(settings: PortalSettings): string {
    return settings.baseUrl ?? this.#gateway.proxyUrl() ?? 'http://localhost:8000';
  }

  async #sendAsset(res: ServerResponse, path: string, asset: { file: string; type: string }): Promise<void> {
    let body = this.#assets.get(path);
    if (body === undefined) {
      body = await readFile(asset.file);
      this.#assets.set(path, body);
    }
    res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' });
    res.end(body);
  }
}

/** The brand's colours as CSS custom properties (a stylesheet: the pages' CSP allows no inline style). */
function sendBrandCss(res: ServerResponse, settings: PortalSettings): void {
  const b = settings.brand;
  // The values are hex colours (schema and compileBrand), so nothing else can reach the CSS.
  const css = `:root { --accent: ${b.accent}; --on-accent: ${b.onAccent}; --accent-text: ${b.accentText}; }\n`;
  res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'content-length': Buffer.byteLength(css), 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  res.end(css);
}
