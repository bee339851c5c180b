// The documented JSON endpoints under /portal/api (docs/portal.md): catalog, API detail,
// session, sign-up/in/out, keys, usage, try-it relay, and the operator's endpoints. The
// pages use nothing else, so a team can replace the front end.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PortalSnapshot } from './server.js';
import { DirectoryConflict, newSecret, type PortalAccount, type PortalDirectory, type PortalKey } from './directory.js';
import { MAX_PASSWORD, MIN_PASSWORD, hashPassword, verifyPassword } from './passwords.js';
import { PortalError, readJson, sendJson, str } from './http.js';
import type { Session } from './sessions.js';
import { accountQuota } from './quota.js';
import { catalogTags, searchApis, type PortalSettings, type PortalApi } from './settings.js';
import type { SignInThrottle } from './throttle.js';
import { tryIt } from './try-it.js';
import { STEP_MS, type Step, type UsageSource } from './usage.js';

export interface ApiContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly snapshot: PortalSnapshot;
  readonly settings: PortalSettings;
  readonly session: Session;
  readonly account: PortalAccount | null;
  readonly clientIp: string;
  readonly directory: PortalDirectory;
  readonly usage: UsageSource;
  readonly throttle: SignInThrottle;
  /** Gives the visitor a fresh session (after sign-in/out) and sets its cookie. */
  renewSession(accountId: string | null): Promise<Session>;
  /** The gateway's public base URL (config, or the first proxy listener). */
  readonly baseUrl: string;
  /** Where the portal itself reaches the gateway's proxy listener (try-it relay). */
  readonly proxyUrl: string | null;
}

type Handler = (c: ApiContext, params: string[]) => Promise<void>;
interface ApiRoute { method: string; pattern: RegExp; auth: 'none' | 'account' | 'admin'; handler: Handler; opensSession?: true }

const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,190}$/;
const KEY_NAME = /^[^\u0000-\u001f\u007f]{1,64}$/;

export const API_ROUTES: ApiRoute[] = [
  { method: 'GET', pattern: /^\/portal\/api\/config$/, auth: 'none', handler: getConfig },
  { method: 'GET', pattern: /^\/portal\/api\/session$/, auth: 'none', handler: getSession, opensSession: true },
  { method: 'POST', pattern: /^\/portal\/api\/sign-up$/, auth: 'none', handler: signUp },
  { method: 'POST', pattern: /^\/portal\/api\/sign-in$/, auth: 'none', handler: signIn },
  { method: 'POST', pattern: /^\/portal\/api\/sign-out$/, auth: 'none', handler: signOut },
  { method: 'GET', pattern: /^\/portal\/api\/apis$/, auth: 'none', handler: listApis },
  { method: 'GET', pattern: /^\/portal\/api\/apis\/([A-Za-z0-9._-]+)$/, auth: 'none', handler: getApi },
  { method: 'GET', pattern: /^\/portal\/api\/keys$/, auth: 'account', handler: listKeys },
  { method: 'POST', pattern: /^\/portal\/api\/keys$/, auth: 'account', handler: createKey },
  { method: 'POST', pattern: /^\/portal\/api\/keys\/([0-9a-f-]{36})\/rotate$/, auth: 'account', handler: rotateKey },
  { method: 'DELETE', pattern: /^\/portal\/api\/keys\/([0-9a-f-]{36})$/, auth: 'account', handler: revokeKey },
  { method: 'GET', pattern: /^\/portal\/api\/usage$/, auth: 'account', handler: getUsage },
  { method: 'POST', pattern: /^\/portal\/api\/try$/, auth: 'account', handler: tryIt },
  { method: 'GET', pattern: /^\/portal\/api\/admin\/consumers$/, auth: 'admin', handler: adminConsumers },
  { method: 'GET', pattern: /^\/portal\/api\/admin\/approvals$/, auth: 'admin', handler: adminApprovals },
  { method: 'POST', pattern: /^\/portal\/api\/admin\/approvals\/([0-9a-f-]{36})$/, auth: 'admin', handler: adminDecide },
  { method: 'GET', pattern: /^\/portal\/api\/admin\/analytics$/, auth: 'admin', handler: adminAnalytics },
];

export function accountView(a: PortalAccount): Record<string, unknown> {
  return { id: a.id, email: a.email, role: a.role, created_at: a.createdAt };
}

function keyView(k: PortalKey): Record<string, unknown> {
  return { id: k.id, name: k.name, prefix: k.prefix, plan: k.plan, status: k.status, created_at: k.createdAt, rotated_at: k.rotatedAt, revoked_at: k.revokedAt };
}

async function getConfig(c: ApiContext): Promise<void> {
  const s = c.settings;
  sendJson(c.res, 200, { title: s.title, brand: { logo_url: s.brand.logoUrl, accent_color: s.brand.accent }, base_url: c.baseUrl, self_service: { plans: s.plans, sign_up: s.signUp }, oidc: s.oidc ? { label: s.oidc.label, start: '/portal/api/oidc/start' } : null });
}

async function getSession(c: ApiContext): Promise<void> {
  sendJson(c.res, 200, { authenticated: c.account !== null, account: c.account ? accountView(c.account) : null, csrf_token: c.session.csrf });
}

function credentials(body: Record<string, unknown>): { email: string; password: string } {
  const email = str(body, 'email', { max: 254, required: true })!.trim().toLowerCase();
  const password = str(body, 'password', { max: MAX_PASSWORD, required: true })!;
  if (!EMAIL.test(email)) throw new PortalError('bad-request', '"email" must be an email address');
  return { email, password };
}

async function signUp(c: ApiContext): Promise<void> {
  if (!c.settings.signUp) throw new PortalError('forbidden', 'sign-up is closed; ask an operator for an account');
  const { email, password } = credentials(await readJson(c.req));
  if (password.length < MIN_PASSWORD) throw new PortalError('bad-request', `the password needs at least ${MIN_PASSWORD} characters`);
  if (c.snapshot.consumers.byUsername.has(email)) throw new PortalError('conflict', 'an account with this email exists');
  let account: PortalAccount;
  try {
    account = await c.directory.createAccount({ email, role: c.settings.admins.has(email) ? 'admin' : 'developer', passwordHash: await hashPassword(password), oidcSubject: null });
  } catch (err) {
    if (err instanceof DirectoryConflict) throw new PortalError('conflict', 'an account with this email exists');
    throw err;
  }
  const s = await c.renewSession(account.id);
  sendJson(c.res, 201, { account: accountView(account), csrf_token: s.csrf });
}

async function signIn(c: ApiContext): Promise<void> {
  const { email, password } = credentials(await readJson(c.req));
  const wait = c.throttle.blocked(email, c.clientIp);
  if (wait > 0) throw new PortalError('sign-in-throttled', 'too many failed sign-ins; try again later', { 'retry-after': String(wait) });
  const account = await c.directory.findAccountByEmail(email);
  const ok = await verifyPassword(password, account?.passwordHash ?? null);
  if (!ok || account === null) {
    c.throttle.fail(email, c.clientIp);
    throw new PortalError('unauthorized', 'wrong email or password');
  }
  c.throttle.succeed(email);
  // Role follows the config: an email added to or removed from portal.admins takes effect at sign-in.
  const s = await c.renewSession(account.id);
  sendJson(c.res, 200, { account: accountView(account), csrf_token: s.csrf });
}

async function signOut(c: ApiContext): Promise<void> {
  const s = await c.renewSession(null);
  sendJson(c.res, 200, { authenticated: false, csrf_token: s.csrf });
}

function apiSummary(c: ApiContext, a: PortalApi): Record<string, unknown> {
  return { service: a.service, title: a.title, description: a.description, tags: a.tags, versions: a.versions, base_url: c.baseUrl + a.pathPrefix, has_openapi: a.openapi !== null };
}

async function listApis(c: ApiContext): Promise<void> {
  const apis = searchApis(c.settings.apis, c.url.searchParams.get('q') ?? '', c.url.searchParams.get('tag') ?? '');
  sendJson(c.res, 200, { apis: apis.map((a) => apiSummary(c, a)), tags: catalogTags(c.settings.apis) });
}

async function getApi(c: ApiContext, [service]: string[]): Promise<void> {
  const a = c.settings.apis.get(service!);
  if (a === undefined) throw new PortalError('not-found', `no published API named "${service}"`);
  // The document's own servers are the upstream's; visitors call the gateway.
  const openapi = a.openapi === null ? null : { ...a.openapi, servers: [{ url: c.baseUrl + a.pathPrefix, description: 'through the gateway' }] };
  sendJson(c.res, 200, { ...apiSummary(c, a), openapi });
}

async function listKeys(c: ApiContext): Promise<void> {
  const keys = await c.directory.listKeys(c.account!.id);
  sendJson(c.res, 200, { keys: keys.filter((k) => k.status !== 'revoked' || c.url.searchParams.get('all') === '1').map(keyView) });
}

async function createKey(c: ApiContext): Promise<void> {
  const body = await readJson(c.req);
  const name = str(body, 'name', { max: 64, required: true })!.trim();
  if (!KEY_NAME.test(name)) throw new PortalError('bad-request', '"name" must be 1-64 characters without control characters');
  const plan = str(body, 'plan', { max: 128 }) ?? null;
  const plans = c.settings.plans;
  let status: 'active' | 'pending' = 'active';
  if (plans === false) {
    if (plan !== null) throw new PortalError('bad-request', 'plans are not self-service here; the key is created pending approval without "plan"');
    status = 'pending';
  } else if (plan === null || !plans.includes(plan)) {
    throw new PortalError('bad-request', `"plan" must be one of: ${plans.join(', ')}`);
  }
  const secret = newSecret();
  const key = await c.directory.createKey(c.account!.id, { name, plan, status, secret });
  // The one time the full key is shown.
  sendJson(c.res, 201, { key: keyView(key), secret });
}

async function rotateKey(c: ApiContext, [id]: string[]): Promise<void> {
  const secret = newSecret();
  const key = await c.directory.rotateKey(c.account!.id, id!, secret);
  if (key === null) throw new PortalError('not-found', 'no active key with this id in your account');
  sendJson(c.res, 200, { key: keyView(key), secret });
}

async function revokeKey(c: ApiContext, [id]: string[]): Promise<void> {
  const mine = (await c.directory.listKeys(c.account!.id)).find((k) => k.id === id);
  if (mine === undefined || mine.status === 'revoked') throw new PortalError('not-found', 'no key with this id in your account');
  const key = await c.directory.setKeyStatus(c.account!.id, id!, 'revoked');
  sendJson(c.res, 200, { key: keyView(key!) });
}

function range(c: ApiContext): { from: number; to: number; step: Step } {
  const step = (c.url.searchParams.get('step') ?? 'hour') as Step;
  if (!(step in STEP_MS) ) throw new PortalError('bad-request', '"step" must be minute, hour or day');
  const points = step === 'minute' ? 60 : step === 'hour' ? 24 : 30;
  const to = Math.floor(Date.now() / STEP_MS[step]) * STEP_MS[step] + STEP_MS[step];
  return { from: to - points * STEP_MS[step], to, step };
}

async function getUsage(c: ApiContext): Promise<void> {
  const r = range(c);
  const keyId = c.url.searchParams.get('key');
  const service = c.url.searchParams.get('service');
  if (keyId !== null && !(await c.directory.listKeys(c.account!.id)).some((k) => k.id === keyId)) throw new PortalError('not-found', 'no key with this id in your account');
  const q = { ...r, consumer: c.account!.id, ...(keyId ? { credential: keyId } : {}), ...(service ? { service } : {}) };
  const [series, quota, byService] = await Promise.all([c.usage.series(q), accountQuota(c.settings, c.snapshot, c.account!.id), c.usage.totals(q, 'service', 50)]);
  sendJson(c.res, 200, { step: r.step, from: r.from, to: r.to, series, quota: quota && { limit: quota.limit, used: quota.used, left: quota.left, period: quota.period, reset_at: quota.resetAt }, services: byService });
}

async function adminConsumers(c: ApiContext): Promise<void> {
  const [accounts, keys] = await Promise.all([c.directory.listAccounts(), c.directory.listKeys(null)]);
  const configured = [...c.snapshot.consumers.byId.values()].filter((x) => !accounts.some((a) => a.id === x.id));
  sendJson(c.res, 200, {
    accounts: accounts.map((a) => ({ ...accountView(a), keys: keys.filter((k) => k.accountId === a.id).map(keyView) })),
    configured: configured.map((x) => ({ id: x.id, username: x.username, plan: x.plan, groups: [...x.groups] })),
  });
}

async function adminApprovals(c: ApiContext): Promise<void> {
  const [accounts, keys] = await Promise.all([c.directory.listAccounts(), c.directory.listKeys(null)]);
  const email = new Map(accounts.map((a) => [a.id, a.email]));
  sendJson(c.res, 200, { pending: keys.filter((k) => k.status === 'pending').map((k) => ({ ...keyView(k), account: { id: k.accountId, email: email.get(k.accountId) ?? null } })) });
}

async function adminDecide(c: ApiContext, [id]: string[]): Promise<void> {
  const body = await readJson(c.req);
  const decision = str(body, 'decision', { max: 10, required: true });
  if (decision !== 'approve' && decision !== 'reject') throw new PortalError('bad-request', '"decision" must be approve or reject');
  const pending = (await c.directory.listKeys(null)).find((k) => k.id === id && k.status === 'pending');
  if (pending === undefined) throw new PortalError('not-found', 'no pending key with this id');
  const key = await c.directory.setKeyStatus(null, id!, decision === 'approve' ? 'active' : 'rejected');
  sendJson(c.res, 200, { key: keyView(key!) });
}

async function adminAnalytics(c: ApiContext): Promise<void> {
  const r = range(c);
  const [top, services, accounts] = await Promise.all([c.usage.totals(r, 'consumer', 10), c.usage.totals(r, 'service', 100), c.directory.listAccounts()]);
  const names = new Map<string, string>([...c.snapshot.consumers.byId.values()].map((x) => [x.id, x.username]));
  for (const a of accounts) names.set(a.id, a.email);
  const perService = await Promise.all(services.map(async (s) => ({ service: s.key, series: await c.usage.series({ ...r, service: s.key }) })));
  sendJson(c.res, 200, {
    step: r.step,
    from: r.from,
    to: r.to,
    top_consumers: top.map((t) => ({ consumer: t.key, name: names.get(t.key) ?? t.key, calls: t.calls, errors: t.errors, p95: t.p95 })),
    services: services.map((s) => ({ service: s.key, calls: s.calls, errors: s.errors, error_rate: s.calls === 0 ? 0 : s.errors / s.calls, p95: s.p95 })),
    series: perService,
  });
}
