// Every diagnostics channel Northgate publishes, in one table (as undici's
// lib/core/diagnostics.js): the core publishes, observability subscribes, and neither needs
// the other's module. Names are part of the public interface (docs/observability.md).
import { channel } from 'node:diagnostics_channel';

/** Once the request head is read and checked (message: the request context); traces start their server span. */
export const requestStartChannel = channel('northgate:request:start');
/** Just before each upstream attempt is sent (message: the request context); subscribers may still edit its upstream headers. */
export const upstreamStartChannel = channel('northgate:upstream:start');
/**
 * When an upstream attempt ends: `{ ctx, error }` (error null when the response completed).
 * The message object is reused: subscribers run synchronously inside publish and copy what they keep.
 */
export const upstreamEndChannel = channel('northgate:upstream:end');
/** Once per request after the response ended or failed (message: the request context). Metrics, logs and traces subscribe. */
export const requestEndChannel = channel('northgate:request:end');
/** A plugin or the core hit a bug (a thrown error): `{ ctx, error }`, never shown to the client. */
export const requestErrorChannel = channel('northgate:request:error');
/** A request refused with 429 rate-limited (message: the request context). */
export const rateLimitedChannel = channel('northgate:rate-limit:rejected');
/** A request refused with 429 quota-exceeded (message: the request context). */
export const quotaExceededChannel = channel('northgate:quota:exceeded');
/** The `fault-injection` plugin delayed or answered a request: `{ ctx, kind }` (`delay` or `abort`). */
export const faultInjectedChannel = channel('northgate:fault:injected');
/** The `request-mirror` plugin did not deliver a copy: `{ ctx, reason, mirror }` (`overloaded`, `body`, `error`, `timeout`, `unavailable`; the mirror's upstream name or URL). */
export const mirrorDroppedChannel = channel('northgate:mirror:dropped');
/** Every circuit state change: `{ service, from, to, failures, requests }` (state names). */
export const circuitStateChannel = channel('northgate:circuit:state');
/** An active health check changed a target's state: `{ upstream, target, healthy, reason }`. */
export const targetHealthChannel = channel('northgate:upstream:health');
/** After each DNS resolution: `{ name, addresses, ttlMs, source, changed, error }` (source "srv": name is the service, addresses its records as "priority weight port target"). */
export const dnsResolveChannel = channel('northgate:dns:resolve');
/** A remote document (JWKS, OpenAPI, discovery) could not be fetched: `{ what, url, reason }`. */
export const remoteFetchFailedChannel = channel('northgate:remote:fetch-failed');
/**
 * A request or response that breaks the service's OpenAPI document (the `request-validator`
 * and `mock` plugins): `{ ctx, service, operation, kind, status, issues, log }`, `operation`
 * null when none matched; `kind` is `unknown-operation`, `request` or `response`; `log` says
 * whether this one is in the log's sample. Metrics and the process log subscribe.
 */
export const contractViolationChannel = channel('northgate:openapi:violation');
/** After every reload attempt, with its result (metrics subscribe). */
export const reloadChannel = channel('northgate:config:reload');
