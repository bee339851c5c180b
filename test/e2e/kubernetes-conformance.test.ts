// Gateway API conformance cases (the suite's own manifests, its expectations transcribed
// from its Go tests: test/helpers/conformance-cases.ts) against Northgate in
// --kubernetes-manifests mode, in-process, with local echo backends standing in for the pods.
// Every case runs and its result is reported (a diagnostic per case, and the table in
// docs/kubernetes.md, "Conformance"); the cases in PASSING must pass. Bounded: one gateway per
// case, a handful of requests each (100 for the weights), 5 s per request.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CASES } from '../helpers/conformance-cases.js';
import { Backends, runCase, type CaseResult } from '../helpers/conformance.js';

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
  'HTTPRouteRequestMirror',
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
];

const backends = new Backends();
after(() => backends.close());

test('Gateway API conformance cases in --kubernetes-manifests mode', { timeout: 110_000 }, async (t) => {
  const results: CaseResult[] = [];
  for (const c of CASES) results.push(await runCase(c, backends));
  for (const r of results) t.diagnostic(`${r.name}: ${r.result}${r.detail !== '' ? ` — ${r.detail}` : ''}`);
  const count = (k: CaseResult['result']) => results.filter((r) => r.result === k).length;
  t.diagnostic(`passed ${count('passed')}, failed ${count('failed')}, skipped ${count('skipped')} of ${results.length}`);
  const regressions = results.filter((r) => PASSING.includes(r.name) && r.result !== 'passed');
  assert.deepEqual(regressions.map((r) => `${r.name}: ${r.detail}`), []);
  for (const name of PASSING) assert.ok(CASES.some((c) => c.name === name), `${name} is not a case`);
});
