import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';

const HELP = `northgate — an API gateway for Node.js

Usage: northgate <command> [flags]

Commands:
  start      run the gateway (embedded demo config when no --config and no ./northgate.yaml)
  validate   check a config file; prints FILE:LINE:COL PATH: message per problem
  routes     print the compiled route table in match order
  explain    show which route a request matches, and why earlier candidates did not
  init       write a commented starter northgate.yaml
  usage      print metered usage per consumer, service and route (hour or day)
  config     dump, diff or apply the config store's entities (GitOps)
  cache      cache purge --tag T | --path P: purge the gateway's response caches
  openapi    openapi import SPEC --service NAME --upstream URL: routes from an OpenAPI document
  kubernetes kubernetes render|status --manifests DIR: the config and status Kubernetes resources compile to

Run "northgate <command> --help" for a command's flags.
`;

type Command = (args: string[]) => Promise<number | void> | number | void;

// Each command's module is imported when it runs: `start` does not load what `config` or
// `usage` need (the yaml writer, the metering reader), nor the reverse.
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start.js')).startCommand,
  validate: async () => (await import('./validate.js')).validateCommand,
  routes: async () => (await import('./routes.js')).routesCommand,
  explain: async () => (await import('./explain.js')).explainCommand,
  init: async () => (await import('./init.js')).initCommand,
  usage: async () => (await import('./usage.js')).usageCommand,
  config: async () => (await import('./config.js')).configCommand,
  cache: async () => (await import('./cache.js')).cacheCommand,
  openapi: async () => (await import('./openapi.js')).openapiCommand,
  kubernetes: async () => (await import('./kubernetes.js')).kubernetesCommand,
};

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    process.exitCode = command === undefined ? 2 : 0;
    return;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`northgate ${pkg.version}\n`);
    return;
  }
  const load = COMMANDS[command];
  if (load === undefined) {
    const names = Object.keys(COMMANDS);
    const close = names.find((n) => n.startsWith(command.slice(0, 3)));
    process.stderr.write(`northgate: unknown command "${command}"${close ? ` (did you mean "${close}"?)` : ''}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  try {
    const code = await (await load())(rest);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`northgate: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}
