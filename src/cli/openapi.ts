// `northgate openapi import`: a service whose routes follow an OpenAPI document's
// operations, written as a new config or merged into an existing one (its comments and the
// other services kept). The result is validated before anything is written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { parse, UsageError } from './args.js';
import { loadSpec } from '../openapi/load.js';
import { listOperations } from '../openapi/operations.js';
import { routesFor } from '../openapi/routes.js';
import { loadConfigText } from '../compiler/load.js';
import { ConfigError } from '../base/problems.js';
import { defaultRegistry } from '../plugins/index.js';

const HELP = `Usage: northgate openapi import SPEC --service NAME --upstream URL [--prefix /orders] [-o northgate.yaml]

Writes a service with one route per operation of the OpenAPI 3.0/3.1 document SPEC (YAML or
JSON, $refs to files beside it resolved): exact paths with :params, the operation's method,
its operationId as the route name; the service's openapi.spec and portal.openapi name SPEC.
With -o naming an existing config, the service is added to it, or replaced if it has that
name (its routes are regenerated); other entries and comments are kept. Without -o the
config is printed. --upstream is a URL, or the name of an upstream of that config.
`;

export async function openapiCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'import') throw new UsageError(`unknown subcommand "openapi ${sub}"; see northgate openapi --help`);
  const { values, positionals } = parse('openapi import', rest, { service: { type: 'string' }, upstream: { type: 'string' }, prefix: { type: 'string' }, output: { type: 'string', short: 'o' } }, true);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('name one OpenAPI document; see northgate openapi --help');
  if (values.service === undefined || values.upstream === undefined) throw new UsageError('--service and --upstream are required; see northgate openapi --help');
  const prefix = values.prefix ?? '';
  if (prefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) throw new UsageError(`--prefix ${prefix}: must be a path prefix such as /orders (no trailing slash)`);

  const specPath = resolve(positionals[0]!);
  const loaded = loadSpec(specPath);
  if (Array.isArray(loaded)) {
    for (const p of loaded) process.stderr.write(`${p.file}:${p.line}:${p.col} ${p.message}\n`);
    return 1;
  }
  const operations = listOperations(loaded.document);
  if (operations.length === 0) {
    process.stderr.write(`${specPath}: the document has no operations\n`);
    return 1;
  }
  const output = values.output !== undefined ? resolve(values.output) : null;
  const base = output !== null ? dirname(output) : process.cwd();
  let spec = relative(base, specPath);
  if (!spec.startsWith('..')) spec = `.${sep}${spec}`;
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(values.upstream);
  const service = {
    name: values.service,
    ...(isUrl ? { url: values.upstream } : { upstream: values.upstream }),
    openapi: { spec, ...(prefix !== '' ? { prefix } : {}) },
    portal: { openapi: spec },
    routes: routesFor(values.service, prefix, operations),
  };

  const { Document, parseDocument } = await import('yaml');
  const existing = output !== null && existsSync(output) ? readFileSync(output, 'utf8') : null;
  const doc = existing !== null ? parseDocument(existing) : new Document({ _format_version: '1', services: [] });
  if (doc.errors.length > 0) {
    process.stderr.write(`${output}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}\n`);
    return 1;
  }
  const services = (doc.toJS() as { services?: Array<{ name?: string }> } | null)?.services ?? [];
  const at = services.findIndex((s) => s?.name === values.service);
  if (at >= 0) {
    // The service's other settings (plugins, timeouts…) stay; what the document says is rewritten.
    for (const [key, value] of Object.entries(service)) doc.setIn(['services', at, key], doc.createNode(value));
    if (isUrl) doc.deleteIn(['services', at, 'upstream']);
    else doc.deleteIn(['services', at, 'url']);
  } else if (doc.hasIn(['services'])) doc.addIn(['services'], doc.createNode(service));
  else doc.setIn(['services'], doc.createNode([service]));
  const text = doc.toString({ lineWidth: 0 });
  try {
    loadConfigText(output ?? resolve('northgate.yaml'), text, defaultRegistry());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`the config would not be valid; nothing written:\n${err.lines().join('\n')}\n`);
    return 1;
  }
  if (output === null) process.stdout.write(text);
  else {
    writeFileSync(output, text);
    process.stderr.write(`${existing !== null ? 'merged' : 'wrote'} service "${values.service}" with ${operations.length} route${operations.length === 1 ? '' : 's'} into ${output}\n`);
  }
  return 0;
}
