import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from './args.js';

const HELP = `Usage: northgate init [--file northgate.yaml] [--force]

Writes a commented starter config. Refuses to overwrite an existing file without --force.
`;

export const STARTER = `# Northgate configuration. Reference: docs/configuration.md
# Check it with:  npx northgate validate --config northgate.yaml
# Run it with:    npx northgate start --config northgate.yaml   (SIGHUP or --watch reloads it)
_format_version: "1"

listen:
  proxy: "0.0.0.0:8000"          # where clients connect (a list of addresses is accepted too)
  status: "127.0.0.1:8100"       # GET /healthz, GET /readyz

# Proxies whose X-Forwarded-For is trusted; from anyone else it is replaced.
trusted_proxies: ["127.0.0.1/32"]

limits:
  max_header_bytes: 16384        # larger request heads get 431
  max_body_bytes: 10485760       # larger bodies get 413
  header_timeout: 10s            # time to receive the request head
  idle_timeout: 60s              # keep-alive idle time, and any silence on a client connection

upstreams:
  - name: orders
    balancer: round-robin        # smooth weighted round-robin
    targets:
      - { url: "http://127.0.0.1:9001", weight: 3 }
      - { url: "http://127.0.0.1:9002", weight: 1 }

services:
  - name: orders
    upstream: orders             # or  url: "http://127.0.0.1:9001/base/path"
    timeouts: { connect: 2s, read: 30s }
    plugins:
      headers: { request: { set: { x-team: shop } } }
    routes:
      - name: orders
        paths: ["/api/orders"]   # prefix; "=/exact"; "/orders/:id" params; "~^/v[0-9]+/orders$" regex
        methods: [GET, POST]
        strip_path: true         # /api/orders/7 -> upstream /7

  - name: status-page
    url: "https://example.com"   # \${STATUS_URL:-https://example.com} reads the environment
    routes:
      - paths: ["=/status"]

plugins: {}                      # global plugins: name -> config
`;

export function initCommand(args: string[]): number {
  const { values } = parse('init', args, { file: { type: 'string', short: 'f' }, force: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = resolve(values.file ?? 'northgate.yaml');
  if (existsSync(file) && !values.force) {
    process.stderr.write(`northgate: ${file} exists; use --force to overwrite\n`);
    return 1;
  }
  writeFileSync(file, STARTER);
  process.stdout.write(`wrote ${file}\n`);
  return 0;
}
