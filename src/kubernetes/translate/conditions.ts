// Status conditions as the Gateway API writes them (metav1.Condition), and the time they last
// changed. A condition keeps the lastTransitionTime of the object's current status when its
// status and reason are unchanged, so that translating the same resources twice gives the
// same status and the writer sends nothing; a changed condition gets `now`.

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

export const cond = (type: string, ok: boolean, reason: string, message: string): ConditionInput => ({ type, status: ok ? 'True' : 'False', reason, message });

/** The lastTransitionTime for `c`, taken from `previous` (the conditions now in the cluster) when it did not change. */
export function finishConditions(list: readonly ConditionInput[], previous: unknown, generation: number | undefined, now: string): Condition[] {
  const prev = Array.isArray(previous) ? (previous as Array<Record<string, unknown>>) : [];
  return list.map((c) => {
    const p = prev.find((x) => x !== null && typeof x === 'object' && x['type'] === c.type);
    const same = p !== undefined && p['status'] === c.status && p['reason'] === c.reason && typeof p['lastTransitionTime'] === 'string';
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: same ? (p['lastTransitionTime'] as string) : now,
    };
  });
}

/** RFC 3339 in whole seconds, the form the API server keeps. */
export const rfc3339 = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;
