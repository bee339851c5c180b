// Removes dist/ before a build so that a deleted source or test never leaves a stale
// compiled file behind for `node --test` to run.
import { rmSync } from 'node:fs';
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
