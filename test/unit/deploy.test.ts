// The deployment files: every manifest of deploy/kubernetes/ and every document the Helm
// chart renders (default values, and with TLS, Redis and PostgreSQL set) is valid against
// the Kubernetes and Gateway API schemas (kubernetes-models, @kubernetes-models/gateway-api);
// the RBAC grants exactly what the controller reads and writes (derived from its kinds
// table); the pods run non-root on a read-only root file system with probes on /readyz and
// /healthz; the embedded gateway config loads; the Dockerfile is multi-stage and non-root.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfigText } from '../../src/compiler/load.js';
import { KINDS } from '../../src/kubernetes/resources.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { renderTemplate, type HelmContext } from '../helpers/helm-subset.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PLAIN = join(ROOT, 'deploy/kubernetes');
const CHART = join(ROOT, 'deploy/helm/northgate');

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

async function validate(doc: Doc, where: string): Promise<void> {
  const module = doc.apiVersion.startsWith('gateway.networking.k8s.io/') ? `@kubernetes-models/gateway-api/${doc.apiVersion}` : `kubernetes-models/${doc.apiVersion}`;
  const models = (await import(module)) as Record<string, new (d: unknown) => { validate(): void }>;
  const Model = models[doc.kind];
  assert.ok(Model !== undefined, `${where}: no model for ${doc.apiVersion} ${doc.kind}`);
  assert.doesNotThrow(() => new Model(doc).validate(), `${where}: ${doc.kind} ${doc.metadata.name} is not valid`);
}

const docsOf = (text: string, where: string): Doc[] =>
  parseAllDocuments(text).flatMap((d) => {
    assert.deepEqual(d.errors, [], where);
    const v = d.toJS() as Doc | null;
    return v === null ? [] : [v];
  });

/** What the controller needs: read each kind it watches, patch the status of those it writes, events; nothing else. */
function expectLeastPrivilege(docs: Doc[]): void {
  const role = docs.find((d) => d.kind === 'ClusterRole')!;
  const granted = new Set<string>();
  for (const r of role['rules'] as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>) {
    for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) granted.add(`${g}|${res}|${v}`);
  }
  const wanted = new Set<string>();
  for (const k of KINDS) {
    for (const v of ['get', 'list', 'watch']) wanted.add(`${k.group}|${k.plural}|${v}`);
    if (k.status) wanted.add(`${k.group}|${k.plural}/status|patch`);
  }
  for (const g of ['', 'events.k8s.io']) for (const v of ['create', 'patch']) wanted.add(`${g}|events|${v}`);
  assert.deepEqual([...granted].sort(), [...wanted].sort(), 'the ClusterRole grants exactly what the controller uses');
  const leader = docs.find((d) => d.kind === 'Role')!;
  const leases = (leader['rules'] as Array<{ resources: string[]; verbs: string[]; resourceNames?: string[] }>).map((r) => `${r.resources.join()}:${r.verbs.join()}:${r.resourceNames?.join() ?? '*'}`);
  assert.deepEqual(leases.sort(), ['leases:create:*', 'leases:get,update:northgate-status']);
}

function expectHardenedDeployment(docs: Doc[]): void {
  const d = docs.find((x) => x.kind === 'Deployment')!;
  const pod = d['spec'].template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  const c = pod.containers[0];
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.ok(c.ports.some((p: { name: string; containerPort: number }) => p.name === c.readinessProbe.httpGet.port && p.containerPort === 8100), 'probes use the status listener');
  assert.ok(c.resources.requests.cpu !== undefined && c.resources.limits.memory !== undefined, 'resources set');
  const config = docs.find((x) => x.kind === 'ConfigMap')!['data']['northgate.yaml'] as string;
  const loaded = loadConfigText('northgate.yaml', config, defaultRegistry(), { NORTHGATE_REDIS_URL: 'redis://redis:6379', NORTHGATE_POSTGRES_URL: 'postgres://pg/northgate' });
  assert.equal(loaded.listen?.status, '0.0.0.0:8100', 'the status listener the probes reach');
  const gc = docs.find((x) => x.kind === 'GatewayClass');
  if (gc !== undefined) assert.equal(gc['spec'].controllerName, 'northgate.io/gateway-controller');
  const ic = docs.find((x) => x.kind === 'IngressClass');
  if (ic !== undefined) assert.equal(ic['spec'].controller, 'northgate.io/ingress-controller');
}

describe('deploy/kubernetes', () => {
  test('every manifest is valid; the set of kinds; least privilege; a hardened Deployment', async () => {
    const docs: Doc[] = [];
    for (const f of readdirSync(PLAIN).filter((n) => n.endsWith('.yaml')).sort()) {
      for (const d of docsOf(readFileSync(join(PLAIN, f), 'utf8'), f)) {
        await validate(d, f);
        docs.push(d);
      }
    }
    assert.deepEqual(
      docs.map((d) => d.kind).sort(),
      ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'GatewayClass', 'HorizontalPodAutoscaler', 'IngressClass', 'Namespace', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'],
    );
    expectLeastPrivilege(docs);
    expectHardenedDeployment(docs);
  });
});

describe('deploy/helm/northgate', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>;
  const render = (overrides: (v: Record<string, any>) => void): Doc[] => {
    const v = structuredClone(values);
    overrides(v);
    const ctx: HelmContext = { Values: v, Release: { Name: 'northgate', Namespace: 'northgate-system' }, Chart: { Name: chart['name'], AppVersion: chart['appVersion'] } };
    return readdirSync(join(CHART, 'templates'))
      .sort()
      .flatMap((f) => docsOf(renderTemplate(readFileSync(join(CHART, 'templates', f), 'utf8'), ctx), f));
  };

  test('Chart.yaml and values.yaml: the values for Redis, PostgreSQL, replicas and TLS', () => {
    assert.equal(chart['apiVersion'], 'v2');
    assert.equal(chart['name'], 'northgate');
    assert.equal(values['redis'].url, '');
    assert.equal(values['postgres'].url, '');
    assert.equal(typeof values['replicaCount'], 'number');
    assert.equal(values['tls'].enabled, false);
  });

  test('rendered with the default values: valid, least privilege, hardened, autoscaled', async () => {
    const docs = render(() => undefined);
    for (const d of docs) await validate(d, `chart ${d.kind}`);
    expectLeastPrivilege(docs);
    expectHardenedDeployment(docs);
    assert.ok(docs.some((d) => d.kind === 'HorizontalPodAutoscaler'));
    assert.equal(docs.find((d) => d.kind === 'Deployment')!['spec'].replicas, undefined, 'the HPA owns the replica count');
    const args = (d: Doc[]) => d.find((x) => x.kind === 'Deployment')!['spec'].template.spec.containers[0].args as string[];
    assert.deepEqual(args(docs).slice(0, 2), ['start', '--kubernetes'], 'routes come from the cluster by default');
    assert.ok(docs.some((d) => d.kind === 'IngressClass'));
    assert.deepEqual(args(render((v) => { v['kubernetes'].enabled = false; })), ['start', '--config', '/etc/northgate/northgate.yaml'], 'or from the config alone');
  });

  test('rendered with TLS, Redis and PostgreSQL set, without autoscaling: valid, and each value lands', async () => {
    const docs = render((v) => {
      v['tls'] = { enabled: true, secretName: 'gateway-tls' };
      v['redis'].url = 'redis://redis:6379';
      v['postgres'].url = 'postgres://northgate@pg:5432/northgate';
      v['autoscaling'].enabled = false;
      v['replicaCount'] = 3;
      v['gatewayClass'].create = false;
      v['ingressClass'].create = false;
    });
    for (const d of docs) await validate(d, `chart ${d.kind}`);
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    assert.equal(deployment['spec'].replicas, 3);
    assert.ok(!docs.some((d) => d.kind === 'HorizontalPodAutoscaler' || d.kind === 'GatewayClass' || d.kind === 'IngressClass'));
    const pod = deployment['spec'].template.spec;
    assert.deepEqual(pod.volumes.find((x: { name: string }) => x.name === 'tls').secret, { secretName: 'gateway-tls' });
    assert.ok(docs.find((d) => d.kind === 'Service')!['spec'].ports.some((p: { name: string; port: number }) => p.name === 'https' && p.port === 443));
    const urls = docs.find((d) => d.kind === 'Secret')!['stringData'];
    assert.deepEqual(urls, { 'redis-url': 'redis://redis:6379', 'postgres-url': 'postgres://northgate@pg:5432/northgate' });
  });

  test('the renderer refuses what it does not implement, and missing values', () => {
    const ctx: HelmContext = { Values: { a: 1 }, Release: { Name: 'n', Namespace: 'ns' }, Chart: {} };
    assert.throws(() => renderTemplate('{{ include "x" . }}', ctx), /unsupported/);
    assert.throws(() => renderTemplate('{{ .Values.missing }}', ctx), /no value/);
    assert.throws(() => renderTemplate('{{- if .Values.a }}x', ctx), /if without end/);
    assert.equal(renderTemplate('a:\n  {{- if not .Values.a }}\n  b: 1\n  {{- else }}\n  c: {{ .Values.a | quote }}\n  {{- end }}\n', ctx), 'a:\n  c: "1"\n');
  });
});

describe('Dockerfile', () => {
  test('multi-stage, production dependencies only, non-root; the build context is limited', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const stages = text.split(/^FROM /m).slice(1);
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.match(stages[0]!, /npm prune --omit=dev/);
    const final = stages.at(-1)!;
    const user = /^USER (\S+)/m.exec(final);
    assert.ok(user !== null && !/^(0|root)(:|$)/.test(user[1]!), 'the final stage runs as a non-root user');
    assert.doesNotMatch(final, /npm (ci|install)/, 'nothing installed in the runtime stage');
    assert.doesNotMatch(final, /dist\/test|COPY --from=build \/app\/dist /, 'only dist/src');
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    assert.match(ignore, /^\*$/m, 'everything ignored but what is listed');
  });
});
