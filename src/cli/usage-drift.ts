// `northgate usage --drift`: where clients and a service's OpenAPI document disagree, from the
// metering data: requests that match no operation, and refused requests and undescribed
// responses per operation (the drift table, src/metering/schema.ts), per hour or day.
import type { StoreSpec } from '../metering/config.js';
import { queryDrift, type DriftSummary } from '../metering/store.js';

export interface DriftOptions {
  readonly from: number;
  readonly to: number;
  readonly by: 'hour' | 'day';
  readonly service: string | undefined;
  readonly format: string;
}

const HOUR = 3_600_000;

export async function printDrift(spec: StoreSpec, o: DriftOptions): Promise<number> {
  let rows: DriftSummary[];
  try {
    // A row is an hour: the hour that holds --from is in.
    rows = await queryDrift(spec, { from: o.from - (o.from % HOUR), to: o.to, by: o.by, ...(o.service !== undefined ? { service: o.service } : {}) });
  } catch (err) {
    const where = spec.kind === 'sqlite' ? spec.path : new URL(spec.url).host;
    process.stderr.write(`northgate: cannot read drift from ${where}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(renderDrift(rows, o.format, o.by));
  return 0;
}

const HEADER = ['period', 'service', 'operation', 'kind', 'status', 'violations'];

/** Operation labels come from a document: a CSV cell that a spreadsheet would run as a formula is quoted. */
function csvCell(v: string): string {
  return /[",\n\r]/.test(v) || /^[=+\-@\t\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function renderDrift(rows: readonly DriftSummary[], format: string, by: string): string {
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n';
  const period = (p: string) => (by === 'day' ? p.slice(0, 10) : p.slice(0, 16).replace('T', ' '));
  if (format === 'csv') {
    const lines = rows.map((r) => [r.period, r.service, r.operation, r.kind, String(r.status), String(r.violations)].map(csvCell).join(','));
    return [HEADER.join(','), ...lines].join('\n') + '\n';
  }
  if (rows.length === 0) return 'no contract violations in this range\n';
  // Table: no operation is "(none)"; status 0 (forwarded unchecked) is "-". Control characters of a label are escaped.
  const printable = (v: string) => v.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const cells = rows.map((r) => [period(r.period), printable(r.service), r.operation === '' ? '(none)' : printable(r.operation), r.kind, r.status === 0 ? '-' : String(r.status), String(r.violations)]);
  const widths = HEADER.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c >= 4 ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  ').trimEnd();
  const total = rows.reduce((n, r) => n + r.violations, 0);
  return [line(HEADER.map((h) => h.toUpperCase())), ...cells.map(line), `${rows.length} row${rows.length === 1 ? '' : 's'}, ${total} violation${total === 1 ? '' : 's'}`].join('\n') + '\n';
}
