// The manifests directory as a source: multi-document files (subdirectories too), kinds the
// controller does not read passed over, invalid documents reported at FILE:LINE:COL and
// skipped while the rest loads, duplicates refused, and the directory watched.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createLogger } from '../../src/base/logger.js';
import { formatManifestProblem, ManifestSource, readManifests } from '../../src/kubernetes/manifests.js';
import { ResourceStore, type ResourceSnapshot } from '../../src/kubernetes/store.js';

const dir = mkdtempSync(join(tmpdir(), 'northgate-manifests-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
spec:
  gatewayClassName: northgate
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo }
---
# a comment-only document is nothing
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: apps }
spec: { ports: [{ port: 80 }] }
`;

const BAD = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ok }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: [unclosed
---
kind: HTTPRoute
metadata: { name: no-api-version }
---
- a list
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: dup, namespace: default }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: dup }
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: cls, namespace: ignored }
`;

describe('manifests directory', () => {
  test('multi-document files: the kinds read are kept, others passed over, invalid documents reported and skipped', () => {
    writeFileSync(join(dir, 'a.yaml'), GOOD);
    mkdirSync(join(dir, 'routes'));
    writeFileSync(join(dir, 'routes', 'b.yml'), BAD);
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
    const read = readManifests(dir);
    const names = (k: 'Gateway' | 'Service' | 'HTTPRoute' | 'GatewayClass') => read.objects.get(k)!.map((o) => `${o.metadata.namespace ?? '-'}/${o.metadata.name}`);
    assert.deepEqual(names('Gateway'), ['default/gw'], 'a namespaced kind without namespace is in "default"');
    assert.deepEqual(names('Service'), ['apps/echo']);
    assert.deepEqual(names('HTTPRoute'), ['default/ok', 'default/dup']);
    assert.deepEqual(names('GatewayClass'), ['-/cls'], 'cluster-scoped: the namespace is dropped');
    const b = join(dir, 'routes', 'b.yml');
    assert.deepEqual(read.problems.map(formatManifestProblem), [
      `${b}:8:1 Flow sequence in block collection must be sufficiently indented and end with a ] (document skipped)`,
      `${b}:9:1 missing "apiVersion" (document skipped)`,
      `${b}:12:1 a manifest is an object with apiVersion, kind and metadata (document skipped)`,
      `${b}:18:1 HTTPRoute default/dup is defined again (first at ${b}:14:1); this one is skipped`,
    ]);
  });

  test('watched: an edit makes a new snapshot; a file made invalid keeps its valid documents', async () => {
    const store = new ResourceStore({ quietMs: 20, maxDelayMs: 200 });
    const snapshots: ResourceSnapshot[] = [];
    store.onSnapshot((s) => snapshots.push(s));
    const source = new ManifestSource({ dir, store, logger: createLogger({ level: 'silent' }), debounceMs: 30 });
    source.start();
    try {
      const wait = async (pred: (s: ResourceSnapshot) => boolean) => {
        for (let i = 0; i < 200; i++) {
          const s = snapshots.at(-1);
          if (s !== undefined && pred(s)) return s;
          await new Promise((r) => setTimeout(r, 25));
        }
        return assert.fail('no such snapshot');
      };
      await wait((s) => s.get('Gateway').length === 1);
      assert.equal(source.problems.length, 4);
      writeFileSync(join(dir, 'a.yaml'), GOOD.replace('name: gw', 'name: gw2'));
      const s = await wait((x) => x.get('Gateway')[0]?.metadata.name === 'gw2');
      assert.deepEqual(s.get('Service').map((o) => o.metadata.name), ['echo']);
      rmSync(join(dir, 'routes'), { recursive: true });
      await wait((x) => x.get('HTTPRoute').length === 0);
      assert.equal(source.problems.length, 0);
    } finally {
      source.stop();
      store.close();
    }
  });
});
