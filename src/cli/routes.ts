import { parse, UsageError } from './args.js';
import { describeEntry, pluginNames, routeTable } from '../compiler/explain.js';
import { withSnapshot } from './inspect.js';

const HELP = `Usage: northgate routes --config FILE [--json]

Prints the compiled route table in match order: for each request the first entry
that matches wins (docs/routing.md explains the order).
`;

export async function routesCommand(args: string[]): Promise<number> {
  const { values } = parse('routes', args, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.config === undefined) throw new UsageError('routes needs --config FILE');
  return withSnapshot(values.config, (s) => {
    if (values.json) {
      const rows = routeTable(s);
      process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return 0;
    }
    const rows = s.routes.map((e, i) => [String(i + 1), e.route.name, e.route.service.name, describeEntry(e), pluginNames(e).join(' > ') || '-']);
    const header = ['#', 'ROUTE', 'SERVICE', 'MATCH', 'PLUGINS'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join('  ');
    process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
    process.stdout.write(`${s.routes.length} route entr${s.routes.length === 1 ? 'y' : 'ies'}\n`);
    return 0;
  });
}
