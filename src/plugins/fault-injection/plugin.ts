// `fault-injection`: for chaos tests in staging, a share of a route's requests waits
// (`delay`) and a share is answered with an error instead of reaching the upstream
// (`abort`), each drawn independently per request (Envoy's fault filter: the delay first,
// then the abort). Every fault is published on `northgate:fault:injected`, which the
// `northgate_faults_injected_total` metric counts: a test sees a delay there, not on a clock.
import { faultInjectedChannel } from '../../base/events.js';
import { parseDuration } from '../../base/duration.js';
import type { PluginContext } from '../../sdk/context.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin, RequestPhaseResult } from '../../sdk/plugin.js';
import { faultInjectionSchema, type FaultInjectionConfig } from './schema.js';

/** The longest delay: a client is never held longer by a fault than by a slow upstream's default read timeout. */
const MAX_DELAY_MS = 60_000;

export const faultInjectionPlugin: Plugin<FaultInjectionConfig> = {
  name: 'fault-injection',
  // After authentication, `acl` and the limits (a fault stands in for the upstream, so only
  // requests that would have reached it meet one), before the cache and the stubs.
  priority: 120,
  schema: faultInjectionSchema,
  check(config) {
    const problems: Array<{ path: string[]; message: string }> = [];
    const ms = config.delay === undefined ? 0 : parseDuration(config.delay.duration)!;
    if (ms > MAX_DELAY_MS) problems.push({ path: ['delay', 'duration'], message: 'must be at most 60s' });
    const status = config.abort?.status;
    if ((status === 204 || status === 304) && config.abort?.body !== undefined) problems.push({ path: ['abort', 'body'], message: `a ${status} response has no body` });
    return problems;
  },
  create(config) {
    const abort = config.abort;
    const delay = config.delay;
    const abortShare = abort === undefined ? 0 : abort.percent / 100;
    const delayShare = delay === undefined ? 0 : delay.percent / 100;
    const delayMs = delay === undefined ? 0 : parseDuration(delay.duration)!;
    // One reply for every abort (a problem's request id is filled in when it is sent).
    const reply =
      abort === undefined
        ? null
        : abort.body !== undefined
          ? new LocalReply(abort.status, abort.body, { 'content-type': 'text/plain; charset=utf-8' })
          : LocalReply.problem(abort.status, 'fault-injected', 'Fault Injected', 'the fault-injection plugin answered instead of the upstream');
    const maybeAbort = (ctx: PluginContext): RequestPhaseResult => {
      if (abortShare === 0 || Math.random() >= abortShare) return undefined;
      publish(ctx, 'abort');
      return reply!;
    };
    return {
      request(ctx) {
        if (delayShare !== 0 && Math.random() < delayShare) {
          publish(ctx, 'delay');
          return new Promise<RequestPhaseResult>((resolve) => setTimeout(() => resolve(maybeAbort(ctx)), delayMs));
        }
        return maybeAbort(ctx);
      },
    };
  },
};

function publish(ctx: PluginContext, kind: 'abort' | 'delay'): void {
  if (faultInjectedChannel.hasSubscribers) faultInjectedChannel.publish({ ctx, kind });
}
