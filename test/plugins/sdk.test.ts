// A plugin written only against the SDK (src/sdk/index.ts), as a plugin from outside the
// repo would be: it reads headers, route params, the route and the consumer a built-in auth
// plugin set, keeps per-request state, edits the upstream request, reads and replaces the
// request body, sends a request to another service, answers with a LocalReply and edits the
// response; registered beside the built-ins and run through a real gateway.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:http';
import { addVary, DURATION_PATTERN, LocalReply, parseDuration, type Consumer, type Plugin, type PluginContext } from '../../src/sdk/index.js';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

interface TeamGateConfig {
  team: string;
  /** The service that gets requests of the `beta` team. */
  beta_service?: string;
  /** Requests are stamped with this age (a duration), in ms. */
  max_age?: string;
}

interface Seen {
  readonly team: string;
  readonly consumer: Consumer;
}

const kSeen = Symbol('team-gate.seen');
const logged: Array<{ route: string | undefined; status: number; team: string | undefined }> = [];

const teamGate: Plugin<TeamGateConfig> = {
  name: 'team-gate',
  // After the built-in authentication plugins (1000+), so a consumer is known.
  priority: 960,
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['team'],
    properties: { team: { type: 'string', minLength: 1 }, beta_service: { type: 'string' }, max_age: { type: 'string', pattern: DURATION_PATTERN } },
  },
  check: (cfg) => (cfg.team === cfg.beta_service ? [{ path: ['beta_service'], message: 'must differ from team' }] : []),
  create(cfg) {
    const maxAgeMs = cfg.max_age === undefined ? null : parseDuration(cfg.max_age)!;
    const seenOf = (ctx: PluginContext): Seen | undefined => ctx.local(kSeen) as Seen | undefined;
    return {
      request(ctx) {
        const consumer = ctx.consumer;
        if (consumer === null) return LocalReply.error('unauthorized', 'who are you?');
        const team = ctx.params?.['team'] ?? ctx.header('x-team') ?? '';
        if (!consumer.groups.has(team) && team !== cfg.team) return LocalReply.problem(403, 'team-forbidden', 'Team forbidden', `${consumer.username} is not in ${team}`);
        ctx.locals.set(kSeen, { team, consumer } satisfies Seen);
        ctx.upstreamHeaders.set('x-team', team);
        ctx.upstreamHeaders.set('x-route', `${ctx.route!.name}@${ctx.route!.service.name}`);
        ctx.upstreamHeaders.set('x-directory', ctx.consumers.byUsername.get(consumer.username) === consumer ? 'same' : 'other');
        if (maxAgeMs !== null) ctx.upstreamHeaders.set('x-max-age-ms', String(maxAgeMs));
        if (team === 'beta' && cfg.beta_service !== undefined && !ctx.setService(cfg.beta_service)) return LocalReply.error('internal-error', 'no beta service');
        if (ctx.method === 'POST' && ctx.requestBodyLength > 0) {
          return ctx.readRequestBody(1024).then((body) => {
            if (body !== null) ctx.requestBody = Buffer.from(body.toString('utf8').toUpperCase());
            return undefined;
          });
        }
        return undefined;
      },
      upstreamRequest(ctx) {
        ctx.upstreamHeaders.set('x-upstream-path', ctx.upstreamPath);
      },
      responseHeaders(ctx) {
        const seen = seenOf(ctx);
        if (seen === undefined) return;
        ctx.responseHeaders.set('x-team-gate', `${seen.consumer.username}/${seen.team}`);
        addVary(ctx.responseHeaders, 'X-Team');
        if (ctx.responseStatus === 200 && ctx.header('x-created') !== undefined) ctx.responseStatus = 201;
      },
      log(ctx) {
        logged.push({ route: ctx.route?.name, status: ctx.responseStatus, team: seenOf(ctx)?.team });
      },
    };
  },
};

const config = (main: string, beta: string) => `
_format_version: "1"
consumers:
  - username: alice
    groups: [staff, beta]
    credentials:
      key-auth: [{ key: "alice-secret-key" }]
  - username: bob
    groups: [guests]
    credentials:
      key-auth: [{ key: "bob-secret-key" }]
services:
  - name: main
    url: "${main}"
    routes:
      - name: teams
        paths: ["/teams/:team"]
        plugins:
          key-auth: {}
          team-gate: { team: staff, beta_service: beta, max_age: 2s }
      - name: anonymous
        paths: ["/anonymous"]
        plugins:
          team-gate: { team: staff }
  - name: beta
    url: "${beta}"
`;

describe('a plugin written against the SDK only', () => {
  let gw: TestGateway;
  before(async () => {
    const beta = createServer((_req, res) => res.end('beta service'));
    gw = createTestGateway({ config: config('http://main', 'http://beta'), plugins: [teamGate as Plugin], upstreams: { main: echoUpstream, beta } });
  });
  after(async () => {
    await gw?.close();
  });

  test('sees the route, its params and the consumer set by a built-in auth plugin; edits the upstream request and the response', async () => {
    const r = await gw.request({ path: `/teams/staff?x=1`, headers: { apikey: 'alice-secret-key', 'x-created': '1' } });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-team-gate'], 'alice/staff');
    assert.equal(r.headers['vary'], 'X-Team');
    const echo = JSON.parse(r.body) as { path: string; headers: Record<string, string> };
    assert.equal(echo.headers['x-team'], 'staff');
    assert.equal(echo.headers['x-route'], 'teams@main');
    assert.equal(echo.headers['x-directory'], 'same');
    assert.equal(echo.headers['x-max-age-ms'], '2000');
    assert.equal(echo.headers['x-upstream-path'], '/teams/staff?x=1');
    assert.equal(echo.headers['x-consumer-username'], 'alice');
    assert.deepEqual(logged.at(-1), { route: 'teams', status: 201, team: 'staff' });
  });

  test('answers with a LocalReply: its own problem, and a code from the error table', async () => {
    const forbidden = await gw.request({ path: `/teams/finance`, headers: { apikey: 'bob-secret-key' } });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.headers['content-type'], 'application/problem+json');
    const problem = JSON.parse(forbidden.body) as { type: string; detail: string; request_id: string };
    assert.equal(problem.type, 'urn:northgate:problem:team-forbidden');
    assert.equal(problem.detail, 'bob is not in finance');
    assert.equal(problem.request_id, forbidden.headers['x-request-id']);

    const anonymous = await gw.request({ path: `/anonymous` });
    assert.equal(anonymous.status, 401);
    assert.equal((JSON.parse(anonymous.body) as { type: string }).type, 'urn:northgate:problem:unauthorized');
  });

  test('reads and replaces the request body', async () => {
    const r = await gw.request({ path: `/teams/staff`, method: 'POST', headers: { apikey: 'alice-secret-key', 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(r.status, 200);
    const echo = JSON.parse(r.body) as { body: string; headers: Record<string, string> };
    assert.equal(echo.body, 'HELLO');
    assert.equal(echo.headers['content-length'], '5');
  });

  test('sends a request to another configured service', async () => {
    const r = await gw.request({ path: `/teams/beta`, headers: { apikey: 'alice-secret-key' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'beta service');
    assert.equal(r.headers['x-team-gate'], 'alice/beta');
  });

  test('its check runs at load like a built-in plugin', async () => {
    const bad = config('http://main', 'http://beta').replace('team-gate: { team: staff, beta_service: beta', 'team-gate: { team: beta, beta_service: beta');
    const result = gw.reload(bad);
    assert.equal(result.ok, false);
    assert.match(JSON.stringify(result), /beta_service: must differ from team|must differ from team/);
  });
});
