// The example config loads the compiled plugin through `extensions:` and passes validation.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { validateConfigFile } from 'northgate';

test('northgate.yaml is valid with the plugin loaded from extensions:', async () => {
  const file = fileURLToPath(new URL('../../northgate.yaml', import.meta.url));
  assert.deepEqual(await validateConfigFile(file), []);
});
