// Violations of a service's OpenAPI document in the process log, the sampled ones only
// (every one is counted in metrics): a warning naming the operation and its first problems.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { contractViolationChannel } from '../base/events.js';

interface Violation {
  readonly ctx: { readonly id: string; readonly method: string; readonly path: string };
  readonly service: string;
  readonly operation: string | null;
  readonly kind: string;
  readonly status: number;
  readonly issues: ReadonlyArray<{ pointer: string; message: string }>;
  readonly log: boolean;
}

export function startContractLog(logger: Logger): () => void {
  const onViolation = (message: unknown): void => {
    const v = message as Violation;
    if (!v.log) return;
    // Pointers and messages come from the document and the schema, never request values.
    const issues = v.issues.slice(0, 10).map((i) => `${i.pointer} ${i.message}`);
    logger.warn({ type: 'openapi', request_id: v.ctx.id, service: v.service, operation: v.operation, kind: v.kind, status: v.status, method: v.ctx.method, path: v.ctx.path, issues }, `${v.kind} of service ${v.service} breaks its OpenAPI document`);
  };
  subscribe(contractViolationChannel.name, onViolation);
  return () => unsubscribe(contractViolationChannel.name, onViolation);
}
