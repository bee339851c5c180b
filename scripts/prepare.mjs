// `npm ci` / `npm install` in a checkout: build dist/ when it is missing or older than the
// sources, and do nothing otherwise. `npx northgate` inside the checkout installs the
// checkout as a link in npx's cache, which runs this script again: an up-to-date dist/ makes
// that a few milliseconds instead of a full TypeScript build. Without TypeScript (devDependencies
// not installed) there is nothing to build with: the published package ships dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const marker = join(root, 'dist/src/cli/main.js');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

if (!existsSync(join(root, 'node_modules/typescript'))) process.exit(0);
if (existsSync(marker)) {
  const built = statSync(marker).mtimeMs;
  const sources = Math.max(...['src', 'test', 'bench', 'tsconfig.json'].map((p) => newest(join(root, p))));
  if (sources <= built) process.exit(0);
}
const r = spawnSync(process.execPath, [join(root, 'scripts/clean-dist.mjs')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
process.stderr.write('northgate: building dist/ (tsc)\n');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
process.exit(tsc.status ?? 1);
