// The console's files: its own ES modules and styles (static/) and the libraries it uses
// (preact, htm, uPlot), served from the gateway as ES modules: no bundler, no third-party
// origin. Read and compressed once, on the first request; answered with a strict CSP.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

const STATIC_DIR = fileURLToPath(new URL('../../../../src/admin/console/static/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Only files of this origin run, no inline script or style, no frame may hold the console,
 * no form posts elsewhere. The page's own fetches go to the admin API it came from.
 */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

function asset(type: string, text: string | Buffer): Asset {
  const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** The libraries, each as one ES module that imports the others by relative path. */
function vendor(): Record<string, Asset> {
  const require = createRequire(import.meta.url);
  const preact = dirname(require.resolve('preact'));
  const hooks = dirname(require.resolve('preact/hooks'));
  const htm = dirname(require.resolve('htm'));
  const uplot = join(dirname(require.resolve('uplot/package.json')), 'dist');
  const js = TYPES['.js']!;
  return {
    'vendor/preact.js': asset(js, readFileSync(join(preact, 'preact.module.js'))),
    'vendor/hooks.js': asset(js, readFileSync(join(hooks, 'hooks.module.js'), 'utf8').replace(/from\s*"preact"/g, 'from"./preact.js"')),
    'vendor/htm.js': asset(js, readFileSync(join(htm, 'htm.module.js'))),
    // uPlot's minified build is a script defining `var uPlot`; as a module it exports it.
    'vendor/uplot.js': asset(js, `${readFileSync(join(uplot, 'uPlot.iife.min.js'), 'utf8')}\nexport default uPlot;\n`),
    'vendor/uplot.css': asset(TYPES['.css']!, readFileSync(join(uplot, 'uPlot.min.css'))),
  };
}

let loaded: ReadonlyMap<string, Asset> | null = null;

/** Every file by its path under /ui/ ('' is the page). */
export function consoleAssets(): ReadonlyMap<string, Asset> {
  if (loaded !== null) return loaded;
  const files = new Map<string, Asset>(Object.entries(vendor()));
  for (const name of readdirSync(STATIC_DIR)) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (type !== undefined) files.set(name === 'index.html' ? '' : name, asset(type, readFileSync(join(STATIC_DIR, name))));
  }
  loaded = files;
  return files;
}
