// Circuit breaker state changes in the process log: a circuit opening is a warning, the
// way back (half-open, closed) is info. Subscribes to the breaker's diagnostics channel.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { type CircuitStateChange } from '../upstream/circuit-breaker.js';
import { circuitStateChannel } from '../base/events.js';

export function startCircuitLog(logger: Logger): () => void {
  const onChange = (message: unknown): void => {
    const m = message as CircuitStateChange;
    const fields = { type: 'circuit', service: m.service, from: m.from, to: m.to, ...(m.to === 'open' && m.from === 'closed' ? { failures: m.failures, requests: m.requests } : {}) };
    if (m.to === 'open') logger.warn(fields, `circuit of service ${m.service} opened`);
    else logger.info(fields, `circuit of service ${m.service} is ${m.to}`);
  };
  subscribe(circuitStateChannel.name, onChange);
  return () => unsubscribe(circuitStateChannel.name, onChange);
}
