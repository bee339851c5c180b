// `northgate usage export`: closed hours of metered usage as billing buckets (CSV or JSON),
// each with the stable id the scheduled push sends (src/metering/export.ts).
import { clock } from '../base/clock.js';
import { billingBuckets, bucketsCsv, HOUR } from '../metering/export.js';
import { queryUsage, type UsageSummary } from '../metering/store.js';
import { parse, UsageError } from './args.js';
import { usageStore } from './usage-store.js';

const HELP = `Usage: northgate usage export --from TIME --to TIME [--format csv|json]
                              [--config FILE | --store STORE]

Writes metered usage as billing buckets: one per hour, consumer, credential, service and
route, with requests by status class, bytes and latency, the consumer's plan (from the
config) and a stable id — the same bucket always has the same id, so a billing system that
keeps one bucket per id never counts an hour twice, however often it is exported or pushed.

  --from TIME       start of the first hour, inclusive: 2026-11-01 or 2026-11-01T13:00:00Z
  --to TIME         end, exclusive (a bare date includes that whole day); whole hours only.
                    Hours not closed yet (the current one) are left out
  --format F        csv (default) or json
  -c, --config FILE read the store from the config's metering section; plans from its consumers
  --store STORE     a SQLite file (default ./northgate-metering.sqlite) or a postgres:// URL
`;

function parseTime(flag: string, text: string | undefined, endOfDay: boolean): number {
  if (text === undefined) throw new UsageError(`--${flag} is required; see northgate usage export --help`);
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const t = Date.parse(dateOnly ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(t)) throw new UsageError(`--${flag} takes a date (2026-11-01) or an ISO time (2026-11-01T13:00:00Z), not "${text}"`);
  if (t % HOUR !== 0) throw new UsageError(`--${flag} must be on a whole hour (a bucket is one hour), not "${text}"`);
  return dateOnly && endOfDay ? t + 86_400_000 : t;
}

export async function usageExportCommand(args: string[]): Promise<number> {
  const { values } = parse('usage export', args, {
    from: { type: 'string' },
    to: { type: 'string' },
    format: { type: 'string' },
    config: { type: 'string', short: 'c' },
    store: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const format = values.format ?? 'csv';
  if (format !== 'csv' && format !== 'json') throw new UsageError(`--format takes csv or json, not "${format}"`);
  const from = parseTime('from', values.from, false);
  const requested = parseTime('to', values.to, true);
  if (from >= requested) throw new UsageError('--from must be before --to');
  const now = clock.now();
  const to = Math.min(requested, now - (now % HOUR));

  const store = await usageStore(values);
  if (typeof store === 'number') return store;
  const { spec, config } = store;
  const plans = new Map((config?.consumers ?? []).flatMap((c) => (c.plan === undefined ? [] : [[c.username, c.plan] as const])));
  if (to < requested) process.stderr.write(`northgate: hours from ${new Date(Math.max(to, from)).toISOString()} are not closed yet and are left out\n`);
  let rows: UsageSummary[] = [];
  try {
    if (to > from) rows = await queryUsage(spec, { from, to, by: 'hour' });
  } catch (err) {
    const where = spec.kind === 'sqlite' ? spec.path : new URL(spec.url).host;
    process.stderr.write(`northgate: cannot read usage from ${where}: ${(err as Error).message}\n`);
    return 1;
  }
  const buckets = billingBuckets(rows, (consumer) => plans.get(consumer) ?? null);
  process.stdout.write(format === 'json' ? JSON.stringify(buckets, null, 2) + '\n' : bucketsCsv(buckets));
  return 0;
}
