// Calendar periods in UTC: a day runs from 00:00:00.000Z to the next 00:00Z, a month from
// the 1st 00:00Z to the 1st of the next month (Date.UTC rolls month 12 into next January).

export type PeriodKind = 'day' | 'month';

export interface Period {
  /** "2026-11-27" or "2026-11": part of the counter's key. */
  readonly id: string;
  readonly start: number;
  /** First millisecond of the next period: when the quota resets. */
  readonly end: number;
}

const pad = (n: number) => String(n).padStart(2, '0');

export function periodAt(kind: PeriodKind, t: number): Period {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (kind === 'month') return { id: `${y}-${pad(m + 1)}`, start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
  const day = d.getUTCDate();
  const start = Date.UTC(y, m, day);
  return { id: `${y}-${pad(m + 1)}-${pad(day)}`, start, end: Date.UTC(y, m, day + 1) };
}

/** The period containing `t`, recomputed only when `t` leaves the cached one. */
export function periodTracker(kind: PeriodKind): (t: number) => Period {
  let current = periodAt(kind, 0);
  return (t) => (t >= current.start && t < current.end ? current : (current = periodAt(kind, t)));
}
