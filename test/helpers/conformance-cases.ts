// The Gateway API conformance cases run against Northgate, transcribed from the suite's Go
// files (kubernetes-sigs/gateway-api conformance/tests/<manifest>.go): the routes that must be
// accepted, the status conditions, and each request with what the suite expects of it.
// Cases that cannot run here carry the reason in `skip`.
import { INFRA, type ConformanceCase, type Expect } from './conformance.js';

const WEB = 'gateway-conformance-web-backend';
const v1 = 'infra-backend-v1';
const v2 = 'infra-backend-v2';
const v3 = 'infra-backend-v3';
const r = (name: string, ns = INFRA) => `${ns}/${name}`;
const same = `${INFRA}/same-namespace`;
const to = (backend: string, req: Omit<Expect, 'backend'>): Expect => ({ ...req, backend });
const notFound = (req: Omit<Expect, 'status'>): Expect => ({ ...req, status: 404 });
const accepted = { type: 'Accepted', status: 'True', reason: 'Accepted' } as const;

const FIRST: readonly ConformanceCase[] = [
  {
    name: 'HTTPRouteSimpleSameNamespace',
    manifest: 'httproute-simple-same-namespace',
    accepted: [r('gateway-conformance-infra-test')],
    requests: [to(v1, { path: '/' })],
  },
  {
    name: 'HTTPRouteCrossNamespace',
    manifest: 'httproute-cross-namespace',
    gateway: `${INFRA}/backend-namespaces`,
    accepted: [r('cross-namespace', WEB)],
    requests: [to('web-backend', { path: '/', gateway: `${INFRA}/backend-namespaces`, namespace: WEB })],
  },
  {
    name: 'HTTPExactPathMatching',
    manifest: 'httproute-exact-path-matching',
    accepted: [r('exact-matching')],
    requests: [to(v1, { path: '/one' }), to(v2, { path: '/two' }), notFound({ path: '/' }), notFound({ path: '/one/example' }), notFound({ path: '/two/' }), notFound({ path: '/Two' })],
  },
  {
    name: 'HTTPRouteHeaderMatching',
    manifest: 'httproute-header-matching',
    accepted: [r('header-matching')],
    requests: [
      to(v1, { path: '/', headers: { Version: 'one' } }),
      to(v2, { path: '/', headers: { Version: 'two' } }),
      to(v1, { path: '/', headers: { Version: 'two', Color: 'orange' } }),
      to(v2, { path: '/', headers: { Version: 'two', Color: 'blue' } }),
      notFound({ path: '/', headers: { Color: 'orange' } }),
      notFound({ path: '/', headers: { 'Some-Other-Header': 'one' } }),
      to(v1, { path: '/', headers: { Color: 'blue' } }),
      to(v1, { path: '/', headers: { Color: 'green' } }),
      to(v2, { path: '/', headers: { Color: 'red' } }),
      to(v2, { path: '/', headers: { Color: 'yellow' } }),
      notFound({ path: '/', headers: { Color: 'purple' } }),
    ],
  },
  {
    name: 'HTTPRouteMatching',
    manifest: 'httproute-matching',
    accepted: [r('matching')],
    requests: [
      to(v1, { path: '/' }),
      to(v1, { path: '/example' }),
      to(v1, { path: '/', headers: { Version: 'one' } }),
      to(v2, { path: '/v2' }),
      to(v2, { path: '/v2/example' }),
      to(v2, { path: '/', headers: { Version: 'two' } }),
    ],
  },
  {
    name: 'HTTPRouteMatchingAcrossRoutes',
    manifest: 'httproute-matching-across-routes',
    accepted: [r('matching-part1'), r('matching-part2')],
    requests: [
      to(v1, { host: 'example.com', path: '/' }),
      to(v1, { host: 'example.com', path: '/example' }),
      to(v1, { host: 'example.net', path: '/example' }),
      to(v1, { host: 'example.com', path: '/example', headers: { Version: 'one' } }),
      to(v2, { host: 'example.com', path: '/v2' }),
      to(v1, { host: 'example.net', path: '/v2' }),
      to(v2, { host: 'example.com', path: '/v2/example' }),
      to(v2, { host: 'example.com', path: '/', headers: { Version: 'two' } }),
    ],
  },
  {
    name: 'HTTPRoutePathMatchOrder',
    manifest: 'httproute-path-match-order',
    accepted: [r('path-matching-order')],
    requests: [
      to(v3, { path: '/match/exact/one' }),
      to(v2, { path: '/match/exact' }),
      to(v1, { path: '/match' }),
      to(v2, { path: '/match/prefix/one/any' }),
      to(v1, { path: '/match/prefix/any' }),
      to(v3, { path: '/match/any' }),
    ],
  },
  {
    name: 'HTTPRouteQueryParamMatching',
    manifest: 'httproute-query-param-matching',
    accepted: [r('query-param-matching')],
    requests: [
      to(v1, { path: '/?animal=whale' }),
      to(v2, { path: '/?animal=dolphin' }),
      to(v3, { path: '/?animal=dolphin&color=blue' }),
      to(v3, { path: '/?ANIMAL=Whale' }),
      to(v1, { path: '/?animal=whale&otherparam=irrelevant' }),
      to(v2, { path: '/?animal=dolphin&color=yellow' }),
      notFound({ path: '/?color=blue' }),
      notFound({ path: '/?animal=dog' }),
      notFound({ path: '/?animal=whaledolphin' }),
      notFound({ path: '/' }),
      to(v1, { path: '/path1?animal=whale' }),
      to(v2, { path: '/?animal=whale', headers: { version: 'one' } }),
      to(v3, { path: '/path2?animal=whale', headers: { version: 'two' } }),
      to(v1, { path: '/path3?animal=shark' }),
      to(v1, { path: '/path4?animal=kraken', headers: { version: 'three' } }),
      notFound({ path: '/?animal=shark' }),
      notFound({ path: '/path4?animal=kraken' }),
      to(v1, { path: '/path5?animal=hydra' }),
      to(v3, { path: '/?animal=hydra', headers: { version: 'four' } }),
    ],
  },
  {
    name: 'HTTPRouteMethodMatching',
    manifest: 'httproute-method-matching',
    accepted: [r('method-matching')],
    requests: [
      to(v1, { method: 'POST', path: '/' }),
      to(v2, { method: 'GET', path: '/' }),
      notFound({ method: 'HEAD', path: '/' }),
      to(v1, { method: 'GET', path: '/path1' }),
      to(v2, { method: 'PUT', path: '/', headers: { version: 'one' } }),
      to(v3, { method: 'POST', path: '/path2', headers: { version: 'two' } }),
      to(v1, { method: 'PATCH', path: '/path3' }),
      to(v1, { method: 'DELETE', path: '/path4', headers: { version: 'three' } }),
      notFound({ method: 'PUT', path: '/' }),
      notFound({ method: 'DELETE', path: '/path4' }),
      to(v1, { method: 'PATCH', path: '/path5' }),
      to(v2, { method: 'PATCH', path: '/', headers: { version: 'four' } }),
    ],
  },
  {
    name: 'HTTPRouteHostnameIntersection',
    manifest: 'httproute-hostname-intersection',
    gateway: `${INFRA}/httproute-hostname-intersection`,
    accepted: [r('specific-host-matches-listener-specific-host'), r('specific-host-matches-listener-wildcard-host'), r('wildcard-host-matches-listener-specific-host'), r('wildcard-host-matches-listener-wildcard-host')],
    parents: [{ route: r('no-intersecting-hosts'), gateway: `${INFRA}/httproute-hostname-intersection`, conditions: [{ type: 'Accepted', status: 'False', reason: 'NoMatchingListenerHostname' }] }],
    listeners: [
      { gateway: `${INFRA}/httproute-hostname-intersection`, name: 'listener-1', attachedRoutes: 2, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] },
      { gateway: `${INFRA}/httproute-hostname-intersection`, name: 'listener-2', attachedRoutes: 1 },
      { gateway: `${INFRA}/httproute-hostname-intersection`, name: 'listener-3', attachedRoutes: 1 },
    ],
    requests: (() => {
      const g = { gateway: `${INFRA}/httproute-hostname-intersection` };
      return [
        to(v1, { ...g, host: 'very.specific.com', path: '/s1' }),
        to(v1, { ...g, host: 'very.specific.com:1234', path: '/s1' }),
        notFound({ ...g, host: 'non.matching.com', path: '/s1' }),
        notFound({ ...g, host: 'foo.nonmatchingwildcard.io', path: '/s1' }),
        notFound({ ...g, host: 'foo.wildcard.io', path: '/s1' }),
        notFound({ ...g, host: 'very.specific.com', path: '/non-matching-prefix' }),
        to(v2, { ...g, host: 'foo.wildcard.io', path: '/s2' }),
        to(v2, { ...g, host: 'bar.wildcard.io', path: '/s2' }),
        to(v2, { ...g, host: 'foo.bar.wildcard.io', path: '/s2' }),
        notFound({ ...g, host: 'non.matching.com', path: '/s2' }),
        notFound({ ...g, host: 'wildcard.io', path: '/s2' }),
        notFound({ ...g, host: 'very.specific.com', path: '/s2' }),
        to(v3, { ...g, host: 'very.specific.com', path: '/s3' }),
        notFound({ ...g, host: 'non.matching.com', path: '/s3' }),
        notFound({ ...g, host: 'foo.specific.com', path: '/s3' }),
        notFound({ ...g, host: 'foo.wildcard.io', path: '/s3' }),
        to(v1, { ...g, host: 'foo.anotherwildcard.io', path: '/s4' }),
        to(v1, { ...g, host: 'bar.anotherwildcard.io', path: '/s4' }),
        to(v1, { ...g, host: 'foo.bar.anotherwildcard.io', path: '/s4' }),
        notFound({ ...g, host: 'anotherwildcard.io', path: '/s4' }),
        notFound({ ...g, host: 'foo.wildcard.io', path: '/s4' }),
        notFound({ ...g, host: 'very.specific.com', path: '/s4' }),
        notFound({ ...g, host: 'specific.but.wrong.com', path: '/s5' }),
        notFound({ ...g, host: 'wildcard.io', path: '/s5' }),
      ];
    })(),
  },
  {
    name: 'HTTPRouteListenerHostnameMatching',
    manifest: 'httproute-listener-hostname-matching',
    gateway: `${INFRA}/httproute-listener-hostname-matching`,
    accepted: [r('backend-v1'), r('backend-v2'), r('backend-v3')],
    requests: (() => {
      const g = { gateway: `${INFRA}/httproute-listener-hostname-matching`, listener: 'listener-3' };
      return [
        to(v1, { ...g, host: 'bar.com', path: '/' }),
        to(v2, { ...g, host: 'foo.bar.com', path: '/' }),
        to(v3, { ...g, host: 'baz.bar.com', path: '/' }),
        to(v3, { ...g, host: 'boo.bar.com', path: '/' }),
        to(v3, { ...g, host: 'multiple.prefixes.bar.com', path: '/' }),
        to(v3, { ...g, host: 'multiple.prefixes.foo.com', path: '/' }),
        notFound({ ...g, host: 'foo.com', path: '/' }),
        notFound({ ...g, host: 'no.matching.host', path: '/' }),
      ];
    })(),
  },
  {
    name: 'HTTPRouteRequestHeaderModifier',
    manifest: 'httproute-request-header-modifier',
    accepted: [r('request-header-modifier')],
    requests: [
      to(v1, { path: '/set', headers: { 'Some-Other-Header': 'val' }, expectedRequest: { path: '/set', headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } } }),
      to(v1, { path: '/set', headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'some-other-value' }, expectedRequest: { path: '/set', headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } } }),
      to(v1, { path: '/add', headers: { 'Some-Other-Header': 'val' }, expectedRequest: { path: '/add', headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'add-appends-values' } } }),
      to(v1, { path: '/add', headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value' }, expectedRequest: { path: '/add', headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value,add-appends-values' } } }),
      to(v1, { path: '/remove', headers: { 'X-Header-Remove': 'val' }, expectedRequest: { path: '/remove', absentHeaders: ['X-Header-Remove'] } }),
      to(v1, {
        path: '/multiple',
        headers: { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val' },
        expectedRequest: {
          path: '/multiple',
          headers: { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'X-Header-Add-3': 'header-add-3', 'Another-Header': 'another-header-val' },
          absentHeaders: ['X-Header-Remove-1', 'X-Header-Remove-2'],
        },
      }),
      to(v1, {
        path: '/case-insensitivity',
        headers: { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'original-val-remove', 'Another-Header': 'another-header-val' },
        expectedRequest: { path: '/case-insensitivity', headers: { 'X-Header-Set': 'header-set', 'X-Header-Add': 'original-val-add,header-add', 'Another-Header': 'another-header-val' }, absentHeaders: ['x-header-remove', 'X-Header-Remove'] },
      }),
    ],
  },
  {
    name: 'HTTPRouteResponseHeaderModifier',
    manifest: 'httproute-response-header-modifier',
    accepted: [r('response-header-modifier')],
    requests: [
      to(v1, { path: '/set', backendSetResponseHeaders: { 'Some-Other-Header': 'val' }, responseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } }),
      to(v1, { path: '/set', backendSetResponseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Set': 'some-other-value' }, responseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } }),
      to(v1, { path: '/add', backendSetResponseHeaders: { 'Some-Other-Header': 'val' }, responseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Add': 'add-appends-values' } }),
      to(v1, { path: '/add', backendSetResponseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value' }, responseHeaders: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value,add-appends-values' } }),
      to(v1, { path: '/remove', backendSetResponseHeaders: { 'X-Header-Remove': 'val' }, absentResponseHeaders: ['X-Header-Remove'] }),
      to(v1, {
        path: '/multiple',
        backendSetResponseHeaders: { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val' },
        responseHeaders: { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'X-Header-Add-3': 'header-add-3', 'Another-Header': 'another-header-val' },
        absentResponseHeaders: ['X-Header-Remove-1', 'X-Header-Remove-2'],
      }),
      to(v1, {
        path: '/case-insensitivity',
        backendSetResponseHeaders: { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'original-val-remove', 'Another-Header': 'another-header-val' },
        responseHeaders: { 'X-Header-Set': 'header-set', 'X-Header-Add': 'original-val-add,header-add', 'Another-Header': 'another-header-val' },
        absentResponseHeaders: ['x-header-remove', 'X-Header-Remove'],
      }),
    ],
  },
  {
    name: 'HTTPRouteRedirectHostAndStatus',
    manifest: 'httproute-redirect-host-and-status',
    accepted: [r('redirect-host-and-status')],
    requests: [
      { path: '/hostname-redirect', status: 302, redirect: { host: 'example.org' } },
      { path: '/host-and-status', status: 301, redirect: { host: 'example.org' } },
    ],
  },
  {
    name: 'HTTPRouteRedirectPath',
    manifest: 'httproute-redirect-path',
    accepted: [r('redirect-path')],
    requests: [
      { path: '/original-prefix/lemon', status: 302, redirect: { path: '/replacement-prefix/lemon' } },
      { path: '/full/path/original', status: 302, redirect: { path: '/full-path-replacement' } },
      { path: '/path-and-host', status: 302, redirect: { host: 'example.org', path: '/replacement-prefix' } },
      { path: '/path-and-status', status: 301, redirect: { path: '/replacement-prefix' } },
      { path: '/full-path-and-host', status: 302, redirect: { host: 'example.org', path: '/replacement-full' } },
      { path: '/full-path-and-status', status: 301, redirect: { path: '/replacement-full' } },
    ],
  },
  {
    name: 'HTTPRouteRedirectPort',
    manifest: 'httproute-redirect-port',
    accepted: [r('redirect-port')],
    requests: [
      { path: '/port', status: 302, redirect: { port: '8083' } },
      { path: '/port-and-host', status: 302, redirect: { host: 'example.org', port: '8083' } },
      { path: '/port-and-status', status: 301, redirect: { port: '8083' } },
      { path: '/port-and-host-and-status', status: 302, redirect: { port: '8083', host: 'example.org' } },
    ],
  },
  {
    name: 'HTTPRouteRedirectScheme',
    manifest: 'httproute-redirect-scheme',
    accepted: [r('redirect-scheme')],
    requests: [
      { path: '/scheme', status: 302, redirect: { scheme: 'https' } },
      { path: '/scheme-and-host', status: 302, redirect: { host: 'example.org', scheme: 'https' } },
      { path: '/scheme-and-status', status: 301, redirect: { scheme: 'https' } },
      { path: '/scheme-and-host-and-status', status: 302, redirect: { scheme: 'https', host: 'example.org' } },
    ],
  },
  { name: 'HTTPRoute303Redirect', manifest: 'httproute-303-redirect', accepted: [r('303-redirect')], requests: [{ path: '/see-other', status: 303, redirect: {} }] },
  { name: 'HTTPRoute307Redirect', manifest: 'httproute-307-redirect', accepted: [r('307-redirect')], requests: [{ path: '/temporary', status: 307, redirect: {} }] },
  { name: 'HTTPRoute308Redirect', manifest: 'httproute-308-redirect', accepted: [r('308-redirect')], requests: [{ path: '/permanent', status: 308, redirect: {} }] },
  {
    name: 'HTTPRouteRewriteHost',
    manifest: 'httproute-rewrite-host',
    accepted: [r('rewrite-host')],
    requests: [
      to(v1, { path: '/one', host: 'rewrite.example', expectedRequest: { path: '/one', host: 'one.example.org' } }),
      to(v2, { path: '/two', host: 'rewrite.example', expectedRequest: { path: '/two', host: 'example.org' } }),
      to(v2, {
        path: '/rewrite-host-and-modify-headers',
        host: 'rewrite.example',
        headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' },
        expectedRequest: { path: '/rewrite-host-and-modify-headers', host: 'test.example.org', headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentHeaders: ['X-Header-Remove'] },
      }),
    ],
  },
  {
    name: 'HTTPRouteRewritePath',
    manifest: 'httproute-rewrite-path',
    accepted: [r('rewrite-path')],
    requests: [
      to(v1, { path: '/prefix/one/two', expectedRequest: { path: '/one/two' } }),
      to(v1, { path: '/full/one/two', expectedRequest: { path: '/one' } }),
      to(v1, {
        path: '/full/rewrite-path-and-modify-headers/test',
        headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1', 'X-Header-Set': 'set-val' },
        expectedRequest: { path: '/test', headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentHeaders: ['X-Header-Remove'] },
      }),
      to(v1, {
        path: '/prefix/rewrite-path-and-modify-headers/one',
        headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1', 'X-Header-Set': 'set-val' },
        expectedRequest: { path: '/prefix/one', headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentHeaders: ['X-Header-Remove'] },
      }),
    ],
  },
  {
    name: 'HTTPRouteWeight',
    manifest: 'httproute-weight',
    accepted: [r('weighted-backends')],
    // The suite sends 500 requests and allows 5 points either way; the balancer here is smooth
    // weighted round-robin, so 100 requests are enough to see 70/30/0.
    weights: { path: '/', requests: 100, shares: { [v1]: 0.7, [v2]: 0.3 }, tolerance: 0.05 },
  },
  {
    name: 'HTTPRouteReferenceGrant',
    manifest: 'httproute-reference-grant',
    accepted: [r('reference-grant')],
    requests: [to('web-backend', { path: '/', namespace: WEB })],
  },
  {
    name: 'HTTPRouteInvalidCrossNamespaceBackendRef',
    manifest: 'httproute-invalid-cross-namespace-backend-ref',
    parents: [{ route: r('invalid-cross-namespace-backend-ref'), gateway: same, conditions: [accepted, { type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }] }],
    requests: [{ path: '/', status: 500 }],
  },
  {
    name: 'HTTPRouteInvalidNonExistentBackendRef',
    manifest: 'httproute-invalid-nonexistent-backendref',
    parents: [{ route: r('invalid-nonexistent-backend-ref'), gateway: same, conditions: [accepted, { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' }] }],
    requests: [{ path: '/', status: 500 }],
  },
  {
    name: 'HTTPRouteInvalidBackendRefUnknownKind',
    manifest: 'httproute-invalid-backendref-unknown-kind',
    parents: [{ route: r('invalid-backend-ref-unknown-kind'), gateway: same, conditions: [accepted, { type: 'ResolvedRefs', status: 'False', reason: 'InvalidKind' }] }],
    requests: [{ path: '/', status: 500 }],
  },
  {
    name: 'HTTPRouteInvalidCrossNamespaceParentRef',
    manifest: 'httproute-invalid-cross-namespace-parent-ref',
    parents: [{ route: r('invalid-cross-namespace-parent-ref', WEB), gateway: same, conditions: [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' }] }],
  },
  {
    name: 'HTTPRouteInvalidParentRefNotMatchingListenerPort',
    manifest: 'httproute-invalid-parentref-not-matching-listener-port',
    parents: [{ route: r('httproute-listener-not-matching-route-port'), gateway: same, conditions: [{ type: 'Accepted', status: 'False', reason: 'NoMatchingParent' }] }],
  },
  {
    name: 'HTTPRouteInvalidParentRefNotMatchingSectionName',
    manifest: 'httproute-invalid-parentref-not-matching-section-name',
    parents: [{ route: r('httproute-listener-not-matching-section-name'), gateway: same, conditions: [{ type: 'Accepted', status: 'False', reason: 'NoMatchingParent' }] }],
  },
  {
    name: 'HTTPRouteDisallowedKind',
    manifest: 'httproute-disallowed-kind',
    skip: 'the suite runs it only with SupportTLSRoute (its Gateway has a TLS passthrough listener for TLSRoutes), which Northgate does not claim: the TLS listener is refused, so the route reports NoMatchingParent rather than NotAllowedByListeners',
    parents: [{ route: r('disallowed-kind'), gateway: `${INFRA}/tlsroutes-only`, conditions: [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' }] }],
  },
  {
    name: 'GatewayWithAttachedRoutes',
    manifest: 'gateway-with-attached-routes',
    listeners: [
      { gateway: `${INFRA}/gateway-with-one-attached-route`, name: 'http', attachedRoutes: 1, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }, { type: 'Programmed', status: 'True' }] },
      { gateway: `${INFRA}/gateway-with-two-attached-routes`, name: 'http', attachedRoutes: 2, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }, { type: 'Programmed', status: 'True' }] },
    ],
  },
  {
    name: 'GatewayInvalidRouteKind',
    manifest: 'gateway-invalid-route-kind',
    listeners: [{ gateway: `${INFRA}/gateway-only-invalid-route-kind`, name: 'http', attachedRoutes: 0, conditions: [{ type: 'ResolvedRefs', status: 'False', reason: 'InvalidRouteKinds' }] }],
  },
  {
    name: 'HTTPRouteListenerPortMatching',
    manifest: 'httproute-listener-port-matching',
    gateway: `${INFRA}/httproute-listener-port-matching`,
    parents: ['backend-v1', 'backend-v2', 'backend-v3'].map((n) => ({ route: r(n), gateway: `${INFRA}/httproute-listener-port-matching`, conditions: [accepted, { type: 'ResolvedRefs', status: 'True' }] as const })),
    requests: (() => {
      const g = { gateway: `${INFRA}/httproute-listener-port-matching` };
      return [
        to(v1, { ...g, host: 'foo.com', path: '/', port: 80 }),
        to(v2, { ...g, host: 'foo.com:8080', path: '/', port: 8080 }),
        to(v2, { ...g, host: 'bar.com:8080', path: '/', port: 8080 }),
        to(v3, { ...g, host: 'foo.com:8090', path: '/', port: 8090 }),
        notFound({ ...g, host: 'bar.com:8090', path: '/', port: 8090 }),
      ];
    })(),
  },
  {
    name: 'HTTPRoutePartiallyInvalidViaInvalidReferenceGrant',
    manifest: 'httproute-partially-invalid-via-invalid-reference-grant',
    parents: [{ route: r('invalid-reference-grant'), gateway: same, conditions: [accepted, { type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }] }],
    requests: [{ path: '/v2', status: 500 }, to('app-backend-v1', { path: '/', namespace: 'gateway-conformance-app-backend' })],
  },
  ...(['', '-with-hostname-intersection'] as const).map((suffix): ConformanceCase => {
    const gateway = `${INFRA}/http-listener-isolation${suffix}`;
    const g = { gateway };
    return {
      name: `GatewayHTTPListenerIsolation${suffix === '' ? ' (hostnames in listeners)' : ' (hostnames in listeners and routes)'}`,
      manifest: `gateway-http-listener-isolation${suffix}`,
      gateway,
      accepted: ['empty-hostname', 'wildcard-example-com', 'wildcard-foo-example-com', 'abc-foo-example-com'].map((l) => r(`attaches-to-${l}${suffix}`)),
      requests: [
        to(v1, { ...g, host: 'bar.com', path: '/empty-hostname' }),
        notFound({ ...g, host: 'bar.com', path: '/wildcard-example-com' }),
        notFound({ ...g, host: 'bar.com', path: '/wildcard-foo-example-com' }),
        notFound({ ...g, host: 'bar.com', path: '/abc-foo-example-com' }),
        notFound({ ...g, host: 'bar.example.com', path: '/empty-hostname' }),
        to(v1, { ...g, host: 'bar.example.com', path: '/wildcard-example-com' }),
        notFound({ ...g, host: 'bar.example.com', path: '/wildcard-foo-example-com' }),
        notFound({ ...g, host: 'bar.example.com', path: '/abc-foo-example-com' }),
        notFound({ ...g, host: 'bar.foo.example.com', path: '/empty-hostname' }),
        notFound({ ...g, host: 'bar.foo.example.com', path: '/wildcard-example-com' }),
        to(v1, { ...g, host: 'bar.foo.example.com', path: '/wildcard-foo-example-com' }),
        notFound({ ...g, host: 'bar.foo.example.com', path: '/abc-foo-example-com' }),
        notFound({ ...g, host: 'abc.foo.example.com', path: '/empty-hostname' }),
        notFound({ ...g, host: 'abc.foo.example.com', path: '/wildcard-example-com' }),
        notFound({ ...g, host: 'abc.foo.example.com', path: '/wildcard-foo-example-com' }),
        to(v1, { ...g, host: 'abc.foo.example.com', path: '/abc-foo-example-com' }),
      ],
    };
  }),
  {
    name: 'HTTPRouteRequestMirror',
    manifest: 'httproute-request-mirror',
    accepted: [r('request-mirror')],
    requests: [
      to(v1, { path: '/mirror', mirroredTo: [v2] }),
      to(v1, {
        path: '/mirror-and-modify-headers',
        headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' },
        expectedRequest: { path: '/mirror-and-modify-headers', headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentHeaders: ['X-Header-Remove'] },
        mirroredTo: [v2],
      }),
    ],
  },
  ...([
    ['GatewaySecretReferenceGrantSpecific', 'gateway-secret-reference-grant-specific'],
    ['GatewaySecretReferenceGrantAllInNamespace', 'gateway-secret-reference-grant-all-in-namespace'],
  ] as const).map(([name, manifest]): ConformanceCase => ({
    name,
    manifest,
    listeners: [{ gateway: r(manifest), name: 'https', attachedRoutes: 0, conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed' }, { type: 'ResolvedRefs', status: 'True' }] }],
  })),
  {
    name: 'GatewaySecretMissingReferenceGrant',
    manifest: 'gateway-secret-missing-reference-grant',
    listeners: [{ gateway: r('gateway-secret-missing-reference-grant'), name: 'https', attachedRoutes: 0, conditions: [{ type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }] }],
  },
  {
    name: 'GatewaySecretInvalidReferenceGrant',
    manifest: 'gateway-secret-invalid-reference-grant',
    listeners: [{ gateway: r('gateway-secret-invalid-reference-grant'), name: 'https', attachedRoutes: 0, conditions: [{ type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }] }],
  },
  {
    name: 'GatewayInvalidTLSConfiguration',
    manifest: 'gateway-invalid-tls-configuration',
    listeners: ['nonexistent-secret', 'unsupported-group', 'unsupported-kind', 'malformed-secret'].map((g) => ({ gateway: r(`gateway-certificate-${g}`), name: 'https', attachedRoutes: 0, conditions: [{ type: 'ResolvedRefs', status: 'False', reason: 'InvalidCertificateRef' }] as const })),
  },
  {
    name: 'HTTPRouteInvalidReferenceGrant',
    manifest: 'httproute-invalid-reference-grant',
    // This version of the manifest: one route to web-backend, and ReferenceGrants that each miss by one field.
    parents: [{ route: r('reference-grant'), gateway: same, conditions: [accepted, { type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }] }],
    requests: [{ path: '/', status: 500 }],
  },
  {
    name: 'GatewayListenerUnsupportedProtocol',
    manifest: 'gateway-invalid-listeners-unsupported-protocol',
    gatewayConditions: [
      { gateway: r('gateway-only-unsupported-protocols'), conditions: [{ type: 'Accepted', status: 'False', reason: 'ListenersNotValid' }] },
      { gateway: r('gateway-supported-and-unsupported-protocols'), conditions: [{ type: 'Accepted', status: 'True', reason: 'ListenersNotValid' }] },
    ],
    listeners: [
      { gateway: r('gateway-only-unsupported-protocols'), name: 'invalid', attachedRoutes: 0, conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedProtocol' }] },
      { gateway: r('gateway-supported-and-unsupported-protocols'), name: 'http', attachedRoutes: 0, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }] },
      { gateway: r('gateway-supported-and-unsupported-protocols'), name: 'invalid', attachedRoutes: 0, conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedProtocol' }] },
    ],
  },
  {
    name: 'HTTPRouteRedirectPortAndScheme',
    manifest: 'httproute-redirect-port-and-scheme',
    parents: [
      { route: r('http-route-for-listener-on-port-80'), gateway: same, conditions: [accepted, { type: 'ResolvedRefs', status: 'True' }] },
      { route: r('http-route-for-listener-on-port-8080'), gateway: `${INFRA}/same-namespace-with-http-listener-on-8080`, conditions: [accepted, { type: 'ResolvedRefs', status: 'True' }] },
      { route: r('http-route-for-listener-on-port-443'), gateway: `${INFRA}/same-namespace-with-https-listener`, conditions: [accepted, { type: 'ResolvedRefs', status: 'True' }] },
    ],
    requests: (() => {
      const on80 = { gateway: same };
      const on8080 = { gateway: `${INFRA}/same-namespace-with-http-listener-on-8080` };
      const on443 = { gateway: `${INFRA}/same-namespace-with-https-listener`, host: 'example.org', tls: { serverName: 'example.org' } };
      const redirect = (path: string, where: object, scheme: string, port?: string): Expect => ({ ...where, path, status: 302, redirect: { scheme, host: 'example.org', ...(port !== undefined ? { port } : {}) } });
      return [
        redirect('/scheme-nil-and-port-nil', on80, 'http'),
        redirect('/scheme-nil-and-port-80', on80, 'http'),
        redirect('/scheme-nil-and-port-8080', on80, 'http', '8080'),
        redirect('/scheme-https-and-port-nil', on80, 'https'),
        redirect('/scheme-https-and-port-443', on80, 'https'),
        redirect('/scheme-https-and-port-8443', on80, 'https', '8443'),
        redirect('/scheme-nil-and-port-nil', on8080, 'http', '8080'),
        redirect('/scheme-nil-and-port-80', on8080, 'http'),
        redirect('/scheme-https-and-port-nil', on8080, 'https'),
        redirect('/scheme-nil-and-port-nil', on443, 'https'),
        redirect('/scheme-nil-and-port-443', on443, 'https'),
        redirect('/scheme-nil-and-port-8443', on443, 'https', '8443'),
        redirect('/scheme-http-and-port-nil', on443, 'http'),
        redirect('/scheme-http-and-port-80', on443, 'http'),
        redirect('/scheme-http-and-port-8080', on443, 'http', '8080'),
      ];
    })(),
  },
  {
    name: 'HTTPRouteHTTPSListener',
    manifest: 'httproute-https-listener',
    gateway: `${INFRA}/same-namespace-with-https-listener`,
    accepted: [r('httproute-https-test'), r('httproute-https-test-no-hostname')],
    requests: (() => {
      const g = { gateway: `${INFRA}/same-namespace-with-https-listener` };
      const sni = (serverName: string) => ({ tls: { serverName } });
      return [
        to(v1, { ...g, ...sni('example.org'), host: 'example.org', path: '/' }),
        notFound({ ...g, ...sni('unknown-example.org'), host: 'second-example.org', path: '/' }),
        // This version of the manifest sends the listener with hostname second-example.org to infra-backend-v2.
        to(v2, { ...g, ...sni('second-example.org'), host: 'second-example.org', path: '/' }),
        notFound({ ...g, ...sni('unknown-example.org'), host: 'unknown-example.org', path: '/' }),
      ];
    })(),
  },
  { name: 'HTTPRouteBackendProtocolH2C', manifest: 'httproute-backend-protocol-h2c', skip: 'the local echo backend speaks HTTP/1.1 only (no h2c port)' },
  { name: 'HTTPRouteBackendProtocolWebSocket', manifest: 'httproute-backend-protocol-websocket', skip: 'the local echo backend has no /ws endpoint' },
  { name: 'HTTPRouteTimeoutRequest', manifest: 'httproute-timeout-request', skip: 'a timing case (?delay=): kept out of the npm test, which never asserts timings' },
  { name: 'HTTPRouteTimeoutBackendRequest', manifest: 'httproute-timeout-backend-request', skip: 'a timing case (?delay=): kept out of the npm test, which never asserts timings' },
  {
    name: 'GRPCExactMethodMatching',
    manifest: 'grpcroute-exact-method-matching',
    accepted: [r('exact-matching')],
    requests: [
      { path: '/', grpc: { method: 'Echo' }, backend: 'grpc-infra-backend-v1' },
      { path: '/', grpc: { method: 'EchoTwo' }, backend: 'grpc-infra-backend-v2' },
      // UNIMPLEMENTED
      { path: '/', grpc: { method: 'EchoThree', code: 12 } },
    ],
  },
  {
    name: 'GRPCRouteHeaderMatching',
    manifest: 'grpcroute-header-matching',
    accepted: [r('grpc-header-matching')],
    requests: (
      [
        [{ Version: 'one' }, 'grpc-infra-backend-v1'],
        [{ Version: 'two' }, 'grpc-infra-backend-v2'],
        [{ Version: 'two', Color: 'orange' }, 'grpc-infra-backend-v1'],
        [{ Version: 'two', Color: 'blue' }, 'grpc-infra-backend-v2'],
        [{ Color: 'orange' }, null],
        [{ 'Some-Other-Header': 'one' }, null],
        [{ Color: 'blue' }, 'grpc-infra-backend-v1'],
        [{ Color: 'green' }, 'grpc-infra-backend-v1'],
        [{ Color: 'red' }, 'grpc-infra-backend-v2'],
        [{ Color: 'yellow' }, 'grpc-infra-backend-v2'],
        [{ Color: 'purple' }, null],
      ] as const
    ).map(([metadata, backend]): Expect => (backend === null ? { path: '/', grpc: { method: 'Echo', metadata, code: 12 } } : { path: '/', grpc: { method: 'Echo', metadata }, backend })),
  },
  {
    name: 'GRPCRouteListenerHostnameMatching',
    manifest: 'grpcroute-listener-hostname-matching',
    gateway: `${INFRA}/grpcroute-listener-hostname-matching`,
    accepted: [r('backend-v1'), r('backend-v2'), r('backend-v3')],
    requests: (
      [
        ['bar.com', 'grpc-infra-backend-v1'],
        ['foo.bar.com', 'grpc-infra-backend-v2'],
        ['baz.bar.com', 'grpc-infra-backend-v3'],
        ['boo.bar.com', 'grpc-infra-backend-v3'],
        ['multiple.prefixes.bar.com', 'grpc-infra-backend-v3'],
        ['multiple.prefixes.foo.com', 'grpc-infra-backend-v3'],
        ['foo.com', null],
        ['no.matching.host', null],
      ] as const
    ).map(([authority, backend]): Expect => {
      const where = { path: '/', gateway: `${INFRA}/grpcroute-listener-hostname-matching`, listener: 'listener-3' };
      return backend === null ? { ...where, grpc: { method: 'Echo', authority, code: 12 } } : { ...where, grpc: { method: 'Echo', authority }, backend };
    }),
  },
  { name: 'GatewayModifyListeners', manifest: 'gateway-modify-listeners', skip: 'edits a Gateway between steps; the run modes test covers listeners opened and closed on change' },
];

/** The requests of a RequestHeaderModifier case, the same at rule and at backendRef level. */
const headerModifierRequests = (): readonly Expect[] => FIRST.find((c) => c.name === 'HTTPRouteRequestHeaderModifier')!.requests!;

/** HTTPRouteRetry's probes: a path, the echo's retry simulation, the status expected. */
const retry = (path: string, simulation: Record<string, string>, status: number | readonly number[]): Expect =>
  typeof status === 'number' && status === 200 ? to(v3, { path, retrySimulation: simulation }) : { path, retrySimulation: simulation, ...(typeof status === 'number' ? { status } : { statuses: status }) };

const grpcService = 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';

const MORE: readonly ConformanceCase[] = [
  {
    name: 'HTTPRouteRequestHeaderModifierBackend',
    manifest: 'httproute-request-header-modifier-backend',
    accepted: [r('request-header-modifier')],
    requests: headerModifierRequests(),
  },
  {
    name: 'HTTPRouteRequestHeaderModifierBackendWeights',
    manifest: 'httproute-request-header-modifier-backend-weights',
    accepted: [r('request-header-modifier-backend-weights')],
    // 100 requests, each with exactly one Backend header naming the pod's backend.
    requests: [{ path: '/', repeat: 100, backendFromHeader: 'Backend' }],
  },
  {
    name: 'HTTPRouteBackendURLRewrite',
    manifest: 'httproute-backend-url-rewrite',
    accepted: [r('backend-url-rewrite')],
    requests: [to(v1, { path: '/full/original', expectedRequest: { path: '/rewritten-full' } }), to(v1, { path: '/prefix/original', expectedRequest: { path: '/rewritten-prefix/original' } })],
  },
  {
    name: 'HTTPRouteBackendPathRedirect',
    manifest: 'httproute-backend-request-redirect',
    accepted: [r('backend-request-redirect')],
    // This version of the manifest redirects /full and /prefix (the path modifiers at backendRef level).
    requests: [
      { path: '/full/original', status: 302, redirect: { path: '/redirected-full' } },
      { path: '/prefix/original', status: 302, redirect: { path: '/redirected-prefix/original' } },
    ],
  },
  {
    name: 'HTTPRouteCORS',
    manifest: 'httproute-cors',
    accepted: [r('cors-multiple-origins-methods-headers'), r('cors-wildcard-methods'), r('cors-wildcard-origin'), r('cors-wildcard-methods-headers')],
    requests: ((): Expect[] => {
      const preflight = (origin: string, method: string, headers?: string): Expect['headers'] => ({ Origin: origin, 'access-control-request-method': method, ...(headers !== undefined ? { 'access-control-request-headers': headers } : {}) });
      const cors1 = {
        'access-control-allow-methods': ['GET, OPTIONS', 'OPTIONS, GET'],
        'access-control-allow-headers': ['x-header-1, x-header-2', 'x-header-2, x-header-1'],
        'access-control-expose-headers': ['x-header-3, x-header-4', 'x-header-4, x-header-3'],
        'access-control-max-age': ['3600'],
        'access-control-allow-credentials': ['true'],
      };
      const options = { method: 'OPTIONS', noEcho: true } as const;
      return [
        { ...options, path: '/cors-1', headers: preflight('https://www.foo.com', 'GET', 'x-header-1, x-header-2'), statuses: [200, 204], validResponseHeaders: { 'access-control-allow-origin': ['https://www.foo.com'], ...cors1 } },
        { ...options, path: '/cors-1', headers: preflight('https://www.bar.com', 'GET', 'x-header-1, x-header-2'), status: 200, validResponseHeaders: { 'access-control-allow-origin': ['https://www.bar.com'], ...cors1 } },
        { ...options, path: '/cors-1', headers: preflight('https://xpto.www.bar.com', 'GET', 'x-header-1, x-header-2'), status: 200, validResponseHeaders: { 'access-control-allow-origin': ['https://xpto.www.bar.com'], ...cors1 } },
        { ...options, path: '/cors-1', headers: preflight('https://foobar.com', 'GET'), statuses: [200, 204, 403], absentResponseHeaders: ['access-control-allow-origin'] },
        { path: '/cors-1', headers: preflight('https://www.foo.com', 'GET', 'x-header-1, x-header-2'), statuses: [200, 204], responseHeaders: { 'access-control-allow-origin': 'https://www.foo.com' } },
        { path: '/cors-1', headers: preflight('https://www.bar.com', 'GET', 'x-header-1, x-header-2'), statuses: [200, 204], responseHeaders: { 'access-control-allow-origin': 'https://www.bar.com' } },
        { path: '/cors-1', headers: preflight('https://foobar.com', 'GET'), absentResponseHeaders: ['access-control-allow-origin'] },
        { ...options, path: '/cors-2', headers: preflight('https://www.foo.com', 'POST'), statuses: [200, 204], validResponseHeaders: { 'access-control-allow-methods': ['POST', '*'] }, responseHeaders: { 'access-control-allow-origin': 'https://www.foo.com' }, absentResponseHeaders: ['access-control-allow-credentials'] },
        { ...options, path: '/cors-wildcard-origin', headers: preflight('https://foobar.com', 'PUT'), statuses: [200, 204], validResponseHeaders: { 'access-control-allow-origin': ['https://foobar.com', '*'], 'access-control-allow-methods': ['PUT'] }, absentResponseHeaders: ['access-control-allow-credentials'] },
        { ...options, path: '/cors-wildcard-origin', headers: preflight('https://foobar.com:12345', 'PUT'), statuses: [200, 204], validResponseHeaders: { 'access-control-allow-origin': ['https://foobar.com:12345', '*'], 'access-control-allow-methods': ['PUT'] }, absentResponseHeaders: ['access-control-allow-credentials'] },
        { path: '/cors-wildcard-origin', method: 'PUT', headers: { Origin: 'https://foobar.com:12345' }, validResponseHeaders: { 'access-control-allow-origin': ['https://foobar.com:12345', '*'] } },
        { path: '/cors-wildcard-origin', method: 'PUT', headers: { Origin: 'https://foobar.com' }, statuses: [200, 204], validResponseHeaders: { 'access-control-allow-origin': ['https://foobar.com', '*'] }, absentResponseHeaders: ['access-control-allow-credentials'] },
        { ...options, path: '/cors-wildcard-methods-headers', headers: preflight('https://other.foo.com', 'PUT', 'x-header-1, x-header-2'), status: 200, validResponseHeaders: { 'access-control-allow-origin': ['https://other.foo.com'], 'access-control-allow-methods': ['PUT'], 'access-control-allow-headers': ['x-header-1, x-header-2', 'x-header-2, x-header-1'], 'access-control-allow-credentials': ['true'] } },
        { ...options, path: '/cors-wildcard-methods-headers-unauth', headers: preflight('https://other.foo.com', 'PUT', 'x-header-1, x-header-2'), status: 200, validResponseHeaders: { 'access-control-allow-origin': ['https://other.foo.com', '*'], 'access-control-allow-methods': ['PUT', '*'], 'access-control-allow-headers': ['x-header-1, x-header-2', 'x-header-2, x-header-1', '*'] }, absentResponseHeaders: ['access-control-allow-credentials'] },
        { path: '/cors-wildcard-methods-headers', headers: { Origin: 'https://other.foo.com', Authorization: 'Bearer test' }, validResponseHeaders: { 'access-control-allow-origin': ['https://other.foo.com'], 'access-control-allow-credentials': ['true'] } },
        { path: '/cors-wildcard-methods-headers-unauth', headers: { Origin: 'https://other.foo.com', Authorization: 'Bearer test' }, validResponseHeaders: { 'access-control-allow-origin': ['https://other.foo.com'] }, absentResponseHeaders: ['access-control-allow-credentials'] },
      ];
    })(),
  },
  {
    name: 'HTTPRouteRequestMultipleMirrors',
    manifest: 'httproute-request-multiple-mirrors',
    accepted: [r('request-multiple-mirrors')],
    requests: [
      to(v1, { path: '/multi-mirror', mirroredTo: [v2, v3] }),
      to(v1, {
        path: '/multi-mirror-and-modify-request-headers',
        headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' },
        expectedRequest: { path: '/multi-mirror-and-modify-request-headers', headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentHeaders: ['X-Header-Remove'] },
        mirroredTo: [v2, v3],
      }),
    ],
  },
  {
    name: 'HTTPRouteRequestPercentageMirror',
    manifest: 'httproute-request-percentage-mirror',
    accepted: [r('request-percentage-mirror')],
    // The suite sends 500 requests per path and allows 5% of the expected count either way (and
    // tries 5 times); the mirror's share is random per request, so here 300 requests and 10
    // points either way (3.5 standard deviations at 50%).
    mirrorShares: [
      { path: '/percent-mirror', requests: 300, mirror: v2, share: 0.2, tolerance: 0.1 },
      { path: '/percent-mirror-fraction', requests: 300, mirror: v2, share: 0.5, tolerance: 0.1 },
      { path: '/percent-mirror-and-modify-headers', headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' }, requests: 300, mirror: v2, share: 0.35, tolerance: 0.1 },
    ],
  },
  {
    name: 'HTTPRouteRetry',
    manifest: 'httproute-retry',
    accepted: [r('retries')],
    requests: [
      retry('/retry/code-500-attempts-3', { responseCode: '500', succeedAfter: '2' }, 200),
      retry('/retry/code-500-attempts-3', { responseCode: '500', succeedAfter: '4' }, 500),
      retry('/retry/code-500-attempts-3', { responseCode: '503', succeedAfter: '2' }, 503),
      ...(['500', '502', '503', '504'] as const).flatMap((code) => [
        retry('/retry/code-all-attempts-2', { responseCode: code, succeedAfter: '1' }, 200),
        retry('/retry/code-all-attempts-2', { responseCode: code, succeedAfter: '3' }, Number(code)),
      ]),
    ],
  },
  {
    name: 'HTTPRouteRetryConnectionError',
    manifest: 'httproute-retry-connection-error',
    accepted: [r('retries-connection-error')],
    requests: [retry('/retry/no-status-code-attempts-3', { succeedAfter: '2' }, 200), retry('/retry/no-status-code-attempts-3', { succeedAfter: '4' }, [500, 503])],
  },
  {
    name: 'HTTPRouteRetryWithTimeouts',
    manifest: 'httproute-retry-with-timeouts',
    accepted: [r('retries-with-timeouts')],
    // The statuses only: no duration is asserted.
    requests: [
      retry('/retry/backend-request-timeout-200ms', { responseCode: '500', succeedAfter: '2', delayRetry: '1s' }, 200),
      retry('/retry/backend-request-timeout-200ms', { responseCode: '500', succeedAfter: '3', delayRetry: '1s' }, 504),
      retry('/retry/request-timeout-200ms', { responseCode: '500', succeedAfter: '4' }, 200),
      retry('/retry/request-timeout-200ms', { responseCode: '500', succeedAfter: '4', delayRetry: '100ms' }, 504),
    ],
  },
  {
    name: 'HTTPRouteNoBackendRefs',
    manifest: 'httproute-omitted-backendrefs',
    parents: [{ route: r('omitted-backendrefs'), gateway: same, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] }],
    requests: [to(v1, { path: '/forward' }), { path: '/omitted-no-forward', status: 500 }, { path: '/empty-no-forward', status: 500 }],
  },
  {
    name: 'HTTPRouteNamedRule',
    manifest: 'httproute-named-rule',
    accepted: [r('http-named-rules')],
    requests: [{ path: '/named' }, { path: '/unnamed' }],
  },
  {
    name: 'HTTPRouteServiceTypes',
    manifest: 'httproute-service-types',
    accepted: [r('service-types')],
    // The suite fills the manual EndpointSlices with infra-backend-v1's pods (manualEndpointSlices);
    // this version of the manifest has no Endpoints objects, so their two paths are not asked.
    manualEndpointSlices: { deployment: v1, slices: ['manual-endpointslices-ip4', 'headless-manual-endpointslices-ip4'] },
    requests: ['/manual-endpointslices', '/headless', '/headless-manual-endpointslices'].map((path) => to(v1, { path })),
  },
  {
    name: 'GRPCRouteRequestHeaderModifier',
    manifest: 'grpcroute-request-header-modifier',
    accepted: [r('grpc-request-header-modifier')],
    // The suite's gRPC comparison reads the code, the method, the namespace and the pod.
    requests: (
      [
        ['Echo', { 'Some-Other-Header': 'this-header-should-be-set' }, 'grpc-infra-backend-v1'],
        ['Echo', { 'Some-Other-Header': 'this-header-should-be-set', 'X-Header-Set': 'this-value-should-be-overwritten' }, 'grpc-infra-backend-v1'],
        ['Echo', { 'Some-Other-Header': 'this-header-should-be-set', 'X-Header-Add': 'this-value-should-be-appended' }, 'grpc-infra-backend-v1'],
        ['Echo', { 'X-Header-Remove': 'this-should-be-removed' }, 'grpc-infra-backend-v1'],
        ['EchoTwo', { 'X-Header-Set-2': 'set-header-2', 'X-Header-Add-2': 'add-header-2', 'X-Header-Remove-2': 'should-be-removed-2', 'Some-Other-Header': 'another-header-val' }, 'grpc-infra-backend-v2'],
        ['EchoTwo', { 'x-header-set-1': 'original-set-1', 'x-header-add-1': 'existing-add-1', 'x-header-remove-1': 'should-be-removed-1' }, 'grpc-infra-backend-v2'],
      ] as const
    ).map(([method, metadata, backend]): Expect => ({ path: '/', grpc: { method, metadata, authority: grpcService }, backend })),
  },
  {
    name: 'GRPCRouteWeight',
    manifest: 'grpcroute-weight',
    accepted: [r('weighted-backends')],
    // The suite makes 500 calls and allows 5 points either way; the balancer is smooth weighted round-robin.
    grpcWeights: { requests: 100, shares: { 'grpc-infra-backend-v1': 0.7, 'grpc-infra-backend-v2': 0.3 }, tolerance: 0.05 },
  },
  {
    name: 'GRPCRouteNamedRule',
    manifest: 'grpcroute-named-rule',
    accepted: [r('grpc-named-rules')],
    requests: [
      { path: '/', grpc: { method: 'Echo' }, backend: 'grpc-infra-backend-v1' },
      { path: '/', grpc: { method: 'EchoTwo' }, backend: 'grpc-infra-backend-v2' },
    ],
  },
  {
    name: 'HTTPRouteInvalidParentRefSectionNameNotMatchingPort',
    manifest: 'httproute-invalid-parentref-section-name-not-matching-port',
    parents: [{ route: r('httproute-listener-section-name-not-matching-port'), gateway: r('gateway-with-one-not-matching-port-and-section-name-route'), conditions: [{ type: 'Accepted', status: 'False', reason: 'NoMatchingParent' }] }],
    noAcceptedParents: [r('httproute-listener-section-name-not-matching-port')],
    listeners: [{ gateway: r('gateway-with-one-not-matching-port-and-section-name-route'), name: 'http', attachedRoutes: 0 }],
  },
  {
    name: 'GatewayWithAttachedRoutesWithPort8080',
    manifest: 'gateway-with-attached-routes-with-port-8080',
    listeners: [
      { gateway: r('gateway-with-two-listeners-and-one-attached-route'), name: 'http-unattached', attachedRoutes: 0, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] },
      { gateway: r('gateway-with-two-listeners-and-one-attached-route'), name: 'http', attachedRoutes: 1, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] },
    ],
  },
  {
    name: 'GatewayInvalidParametersRef',
    manifest: 'gateway-invalid-parameters-ref',
    latestConditions: [r('gateway-invalid-parameters-ref')],
    gatewayConditions: [{ gateway: r('gateway-invalid-parameters-ref'), conditions: [{ type: 'Accepted', status: 'False', reason: 'InvalidParameters' }] }],
  },
  {
    name: 'GatewayNameMaximumLength',
    manifest: 'gateway-name-maximum-length',
    latestConditions: [r(`gateway-name-maximum-length-${'a'.repeat(253 - 'gateway-name-maximum-length-'.length)}`)],
  },
];

export const CASES: readonly ConformanceCase[] = [...FIRST, ...MORE];
