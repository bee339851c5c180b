// What the OpenAPI plugins report when a request or a response breaks the document: one
// message on the `northgate:openapi:violation` channel (metrics count it; the process log
// writes the sampled ones). Nothing is published while nobody subscribes.
import { contractViolationChannel } from '../../base/events.js';
import type { PluginContext } from '../../sdk/context.js';
import type { SchemaIssue } from '../../sdk/openapi.js';

export type ViolationKind = 'unknown-operation' | 'request' | 'response';

export interface ContractViolation {
  readonly ctx: PluginContext;
  readonly service: string;
  /** The operation's label (operationId, else "METHOD path"), null when none matched. */
  readonly operation: string | null;
  readonly kind: ViolationKind;
  /** The status the client got, or (for a response) the upstream's. */
  readonly status: number;
  readonly issues: readonly SchemaIssue[];
  /** In the log's sample. */
  readonly log: boolean;
}

export function reportViolation(ctx: PluginContext, operation: string | null, kind: ViolationKind, status: number, issues: readonly SchemaIssue[], sample: number): void {
  if (!contractViolationChannel.hasSubscribers) return;
  const message: ContractViolation = { ctx, service: ctx.route?.service.name ?? '', operation, kind, status, issues, log: sample > 0 && Math.random() < sample };
  contractViolationChannel.publish(message);
}
