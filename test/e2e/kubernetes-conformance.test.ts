// Gateway API conformance cases (the suite's own manifests, its expectations transcribed
// from its Go tests: test/helpers/conformance-cases.ts) against Northgate in
// --kubernetes-manifests mode, in-process, with local echo backends standing in for the pods.
// Every case runs and its result is reported (a diagnostic per case, and the table in
// docs/kubernetes.md, "Conformance"); the cases in PASSING must pass. Bounded: one gateway per
// case, a handful of requests each (100 for the weights, 300 per mirrored share), 5 s per request.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { translate } from '../../src/kubernetes/translate/index.js';
import { CASES } from '../helpers/conformance-cases.js';
import { Backends, runCase, type CaseResult } from '../helpers/conformance.js';
import { conformanceObjects, snapshotOf } from '../helpers/kube-resources.js';

/** The cases Northgate passes today; a regression in any of them fails the suite. */
const PASSING: readonly string[] = [
  'HTTPRouteSimpleSameNamespace',
  'HTTPRouteCrossNamespace',
  'HTTPExactPathMatching',
  'HTTPRouteHeaderMatching',
  'HTTPRouteMatching',
  'HTTPRouteMatchingAcrossRoutes',
  'HTTPRoutePathMatchOrder',
  'HTTPRouteQueryParamMatching',
  'HTTPRouteMethodMatching',
  'HTTPRouteHostnameIntersection',
  'HTTPRouteListenerHostnameMatching',
  'HTTPRouteRequestHeaderModifier',
  'HTTPRouteResponseHeaderModifier',
  'HTTPRouteRedirectHostAndStatus',
  'HTTPRouteRedirectPath',
  'HTTPRouteRedirectPort',
  'HTTPRouteRedirectScheme',
  'HTTPRoute303Redirect',
  'HTTPRoute307Redirect',
  'HTTPRoute308Redirect',
  'HTTPRouteRewriteHost',
  'HTTPRouteRewritePath',
  'HTTPRouteWeight',
  'HTTPRouteReferenceGrant',
  'HTTPRouteInvalidCrossNamespaceBackendRef',
  'HTTPRouteInvalidNonExistentBackendRef',
  'HTTPRouteInvalidBackendRefUnknownKind',
  'HTTPRouteInvalidCrossNamespaceParentRef',
  'HTTPRouteInvalidParentRefNotMatchingListenerPort',
  'HTTPRouteInvalidParentRefNotMatchingSectionName',
  'GatewayWithAttachedRoutes',
  'GatewayInvalidRouteKind',
  'HTTPRouteListenerPortMatching',
  'HTTPRoutePartiallyInvalidViaInvalidReferenceGrant',
  'GatewayHTTPListenerIsolation (hostnames in listeners)',
  'GatewayHTTPListenerIsolation (hostnames in listeners and routes)',
  'HTTPRouteHTTPSListener',
  'HTTPRouteRequestMirror',
  'HTTPRouteRequestMultipleMirrors',
  'GatewaySecretReferenceGrantSpecific',
  'GatewaySecretReferenceGrantAllInNamespace',
  'GatewaySecretMissingReferenceGrant',
  'GatewaySecretInvalidReferenceGrant',
  'GatewayInvalidTLSConfiguration',
  'HTTPRouteInvalidReferenceGrant',
  'GatewayListenerUnsupportedProtocol',
  'HTTPRouteRedirectPortAndScheme',
  'GRPCExactMethodMatching',
  'GRPCRouteHeaderMatching',
  'GRPCRouteListenerHostnameMatching',
  'HTTPRouteRequestHeaderModifierBackend',
  'HTTPRouteRequestHeaderModifierBackendWeights',
  'HTTPRouteBackendURLRewrite',
  'HTTPRouteBackendPathRedirect',
  'HTTPRouteRequestPercentageMirror',
  'HTTPRouteNoBackendRefs',
  'HTTPRouteNamedRule',
  'HTTPRouteServiceTypes',
  'GRPCRouteWeight',
  'GRPCRouteNamedRule',
  'HTTPRouteInvalidParentRefSectionNameNotMatchingPort',
  'GatewayWithAttachedRoutesWithPort8080',
  'GatewayInvalidParametersRef',
  'GatewayNameMaximumLength',
  'HTTPRouteRetry',
  'HTTPRouteCORS',
  'GRPCRouteRequestHeaderModifier',
];

const backends = new Backends();
after(() => backends.close());

test('Gateway API conformance cases in --kubernetes-manifests mode', { timeout: 280_000 }, async (t) => {
  const results: CaseResult[] = [];
  for (const c of CASES) results.push(await runCase(c, backends));
  for (const r of results) t.diagnostic(`${r.name}: ${r.result}${r.detail !== '' ? ` — ${r.detail}` : ''}`);
  const count = (k: CaseResult['result']) => results.filter((r) => r.result === k).length;
  t.diagnostic(`passed ${count('passed')}, failed ${count('failed')}, skipped ${count('skipped')} of ${results.length}`);
  const regressions = results.filter((r) => PASSING.includes(r.name) && r.result !== 'passed');
  assert.deepEqual(regressions.map((r) => `${r.name}: ${r.detail}`), []);
  for (const name of PASSING) assert.ok(CASES.some((c) => c.name === name), `${name} is not a case`);
});

// What the cases above exercise, read off the translated config: a mirror is the Service's
// upstream and a rule's several mirrors are the plugin's list form, retries cover an attempt's
// backendRequest timeout and the codes a rule names, Service upstreams have no passive ejection,
// and CORS "*" answers with the request's origin and headers, preflights 200, maxAge 5 by default.
test('the translation of the mirror, retry and CORS manifests', () => {
  const run = (file: string) => translate(snapshotOf(conformanceObjects(`conformance__tests__${file}.yaml`)), { now: '2026-01-01T00:00:00Z', addresses: ['10.0.0.1'] });
  const routes = (t: ReturnType<typeof translate>) => ((t.config.services ?? []) as Array<{ routes: Array<Record<string, any>> }>).flatMap((s) => s.routes);
  const infra = (svc: string) => `gateway-conformance-infra.${svc}.8080`;

  const mirrors = run('httproute-request-multiple-mirrors');
  const multi = routes(mirrors).find((r) => r['paths'][0] === '/multi-mirror')!;
  assert.deepEqual(multi['plugins']['request-mirror'], { mirrors: [{ upstream: infra('infra-backend-v2'), percent: 100 }, { upstream: infra('infra-backend-v3'), percent: 100 }] });
  const upstreamNames = ((mirrors.config.upstreams ?? []) as Array<{ name: string }>).map((u) => u.name);
  for (const svc of ['infra-backend-v2', 'infra-backend-v3']) assert.ok(upstreamNames.includes(infra(svc)), `${svc} in ${JSON.stringify(upstreamNames)}`);
  assert.ok(!mirrors.notes.some((n) => n.message.startsWith('RequestMirror')), JSON.stringify(mirrors.notes));

  const percent = routes(run('httproute-request-percentage-mirror')).find((r) => r['paths'][0] === '/percent-mirror-fraction')!;
  assert.deepEqual(percent['plugins']['request-mirror'], { upstream: infra('infra-backend-v2'), percent: 50 });

  const retries = routes(run('httproute-retry-with-timeouts')).find((r) => r['paths'][0] === '/retry/backend-request-timeout-200ms')!;
  assert.deepEqual(retries['timeouts'], { read: '200ms' });
  assert.deepEqual(retries['backends'][0]['retries'], { attempts: 3, on: ['connect-failure', 'reset', 'timeout'] });
  // HTTPRouteRetry: `attempts` retries after the first try, on the codes named; the Service's
  // upstream has no passive ejection (its own 500s do not take its one endpoint out).
  const retry = run('httproute-retry');
  const codes = routes(retry).find((r) => r['paths'][0] === '/retry/code-all-attempts-2')!;
  assert.deepEqual(codes['backends'][0]['retries'], { attempts: 3, on: ['connect-failure', 'reset', 'timeout', 500, 502, 503, 504] });
  const v3 = ((retry.config.upstreams ?? []) as Array<Record<string, unknown>>).find((u) => u['name'] === infra('infra-backend-v3'))!;
  assert.deepEqual(v3['healthcheck'], { passive: { consecutive_failures: 0 } });

  const cors = routes(run('httproute-cors')).find((r) => r['paths'][0] === '/cors-wildcard-methods-headers-unauth')!;
  assert.deepEqual(cors['plugins']['cors'], { preflight_status: 200, origins: ['~^.+$'], methods: ['*'], max_age: 5 });
});
