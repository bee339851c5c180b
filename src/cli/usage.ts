// `northgate usage`: reads the metering store (docs/rate-limiting.md, "Metering").
import { queryUsage, type UsageSummary } from '../metering/store.js';
import { parse, UsageError } from './args.js';
import { usageStore } from './usage-store.js';
import { printDrift } from './usage-drift.js';

const HELP = `Usage: northgate usage [--consumer NAME] [--credential ID] [--service NAME] [--from TIME]
                       [--to TIME] [--by hour|day] [--format table|csv|json]
                       [--config FILE | --store STORE]
       northgate usage --drift [--service NAME] [--from TIME] [--to TIME] [--by hour|day]
                       [--format table|csv|json] [--config FILE | --store STORE]

Prints metered usage: requests per period, consumer, credential, service and route, by
status class, with bytes, the average latency and the p50/p95/p99 latency.
With --drift: where clients and a service's OpenAPI document disagree (request-validator,
mock): violations per period, service, operation, kind (unknown-operation, request,
response) and status; "(none)" is a request that matches no operation, status "-" one
forwarded unchecked (unknown_operations: pass).
\`northgate usage export --help\`: closed hours as billing buckets with stable ids.

  --consumer NAME   one consumer (username); "" is requests without a consumer. Default: all
  --credential ID   one credential (its id: the key's "id" in the config, a portal key's id,
                    or USERNAME/key-auth/N); "" is requests without one. Default: all
  --service NAME    one service. Default: all
  --drift           OpenAPI contract violations instead of requests (no --consumer, --credential)
  --from TIME       start, inclusive: 2026-11-01 or 2026-11-01T12:00:00Z. Default: --to minus
                    one day (--by hour) or 30 days (--by day)
  --to TIME         end: a time is exclusive, a bare date includes that whole day. Default: now
  --by hour|day     period of each row (default hour)
  --format F        table (default), csv or json
  -c, --config FILE read the store from the config's metering section (or the portal's
                    default store next to the config)
  --store STORE     a SQLite file (default ./northgate-metering.sqlite) or a postgres:// URL
`;

const DAY = 86_400_000;

function parseTime(flag: string, text: string, endOfDay: boolean): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const t = Date.parse(dateOnly ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(t)) throw new UsageError(`--${flag} takes a date (2026-11-01) or an ISO time (2026-11-01T12:00:00Z), not "${text}"`);
  return dateOnly && endOfDay ? t + DAY : t;
}

export async function usageCommand(args: string[]): Promise<number> {
  if (args[0] === 'export') return (await import('./usage-export.js')).usageExportCommand(args.slice(1));
  const { values } = parse('usage', args, {
    consumer: { type: 'string' },
    credential: { type: 'string' },
    service: { type: 'string' },
    drift: { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
    by: { type: 'string' },
    format: { type: 'string' },
    config: { type: 'string', short: 'c' },
    store: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const by = values.by ?? 'hour';
  if (by !== 'hour' && by !== 'day') throw new UsageError(`--by takes hour or day, not "${by}"`);
  const format = values.format ?? 'table';
  if (!['table', 'csv', 'json'].includes(format)) throw new UsageError(`--format takes table, csv or json, not "${format}"`);
  const to = values.to === undefined ? Date.now() : parseTime('to', values.to, true);
  const from = values.from === undefined ? to - (by === 'hour' ? DAY : 30 * DAY) : parseTime('from', values.from, false);
  if (from >= to) throw new UsageError('--from must be before --to');
  if (values.drift && (values.consumer !== undefined || values.credential !== undefined)) throw new UsageError('--drift counts violations per service and operation: it takes no --consumer or --credential');

  const store = await usageStore(values);
  if (typeof store === 'number') return store;
  const { spec } = store;
  if (values.drift) return printDrift(spec, { from, to, by, service: values.service, format });
  let rows: UsageSummary[];
  try {
    rows = await queryUsage(spec, { from, to, by, ...(values.consumer !== undefined ? { consumer: values.consumer } : {}), ...(values.credential !== undefined ? { credential: values.credential } : {}), ...(values.service !== undefined ? { service: values.service } : {}) });
  } catch (err) {
    const where = spec.kind === 'sqlite' ? spec.path : new URL(spec.url).host;
    process.stderr.write(`northgate: cannot read usage from ${where}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(render(rows, format, by));
  return 0;
}

const CLASSES = ['2xx', '3xx', '4xx', '5xx'];

function render(rows: UsageSummary[], format: string, by: string): string {
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n';
  const period = (p: string) => (by === 'day' ? p.slice(0, 10) : p.slice(0, 16).replace('T', ' '));
  const other = (r: UsageSummary) => Object.entries(r.status).filter(([c]) => !CLASSES.includes(c)).reduce((n, [, v]) => n + v, 0);
  // Percentiles are empty (csv) or "-" (table) for rows metered before the latency histogram existed.
  const ms = (v: number | null) => (v === null ? '' : v.toFixed(2));
  const header = ['period', 'consumer', 'credential', 'service', 'route', 'requests', ...CLASSES, 'other', 'bytes_in', 'bytes_out', 'avg_ms', 'p50_ms', 'p95_ms', 'p99_ms'];
  const cells = rows.map((r) => [period(r.period), r.consumer, r.credential, r.service, r.route, String(r.requests), ...CLASSES.map((c) => String(r.status[c] ?? 0)), String(other(r)), String(r.bytes_in), String(r.bytes_out), r.latency_ms_avg.toFixed(2), ms(r.latency_ms_p50), ms(r.latency_ms_p95), ms(r.latency_ms_p99)]);
  if (format === 'csv') {
    const esc = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    return [header, ...cells].map((r) => r.map(esc).join(',')).join('\n') + '\n';
  }
  if (rows.length === 0) return 'no usage in this range\n';
  const shown = cells.map((r) => r.map((v, i) => (v !== '' ? v : i === 1 || i === 2 ? '(none)' : i >= 14 ? '-' : v)));
  const widths = header.map((h, c) => Math.max(h.length, ...shown.map((r) => r[c]!.length)));
  const numeric = (c: number) => c >= 5;
  const line = (r: string[]) => r.map((v, c) => (numeric(c) ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  ').trimEnd();
  const total = rows.reduce((n, r) => n + r.requests, 0);
  return [line(header.map((h) => h.toUpperCase())), ...shown.map(line), `${rows.length} row${rows.length === 1 ? '' : 's'}, ${total} request${total === 1 ? '' : 's'}`].join('\n') + '\n';
}
