// `npm run bench -- --scenario startup`: time to ready and idle RSS of `northgate start`.
// Each case starts the real CLI, takes the time from spawn to the JSON `start` line, waits
// 3 s at rest, then reads VmRSS of the process (with --workers, of the master and of each
// worker). Median of the rounds. No load generator and no upstream are needed.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface Case {
  name: string;
  args: string[];
  config?: string;
}

interface Sample {
  readyMs: number;
  rssMb: number;
  workerRssMb: number[];
}

const SERVICES = Array.from({ length: 5 }, (_, i) => `  - name: svc-${i}
    url: "http://127.0.0.1:9"
    plugins: { headers: { request: { set: { x-svc: "${i}" } } } }
    routes: [{ name: r-${i}, paths: ["/svc/${i}"], strip_path: true }]`).join('\n');

const BASE = `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0", admin: null }
access_log: { enabled: false }
`;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function sample(bin: string, c: Case, dir: string): Promise<Sample> {
  const args = [bin, 'start', ...c.args];
  if (c.config !== undefined) {
    const file = path.join(dir, `startup-${c.name}.yaml`);
    writeFileSync(file, c.config);
    args.push('--config', file);
  }
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, NORTHGATE_PROXY_LISTEN: '127.0.0.1:0', NORTHGATE_STATUS_LISTEN: '127.0.0.1:0' },
  });
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${c.name}: no start line within 60 s`)), 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('"type":"start"')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      child.once('exit', (code) => reject(new Error(`${c.name}: exited with ${code} before ready`)));
    });
    await new Promise((r) => setTimeout(r, 3000));
    return { readyMs, rssMb: rssMb(child.pid!), workerRssMb: childPids(child.pid!).map(rssMb) };
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runStartup(repoRoot: string, tmpDir: string, rounds: number, say: (s: string) => void): Promise<string[]> {
  const bin = path.join(repoRoot, 'bin', 'northgate.js');
  const cases: Case[] = [
    { name: 'embedded default', args: [] },
    { name: '5 services', args: [], config: `${BASE}services:\n${SERVICES}\n` },
    { name: '5 services + portal', args: [], config: `${BASE.replace('admin: null', 'admin: null, portal: "127.0.0.1:0"')}portal: { store: "${path.join(tmpDir, 'portal.db')}" }\nservices:\n${SERVICES}\n` },
    { name: '5 services, --workers 2', args: ['--workers', '2'], config: `${BASE}services:\n${SERVICES}\n` },
  ];
  const rows: string[] = ['| config | ready (ms) | idle RSS (MB) | workers\' idle RSS (MB) |', '|---|---:|---:|---:|'];
  for (const c of cases) {
    const samples: Sample[] = [];
    for (let i = 0; i < rounds; i++) {
      const s = await sample(bin, c, tmpDir);
      say(`  ${c.name.padEnd(26)} round ${i + 1}/${rounds}: ready ${s.readyMs.toFixed(0)} ms, RSS ${s.rssMb.toFixed(0)} MB${s.workerRssMb.length ? `, workers ${s.workerRssMb.map((w) => w.toFixed(0)).join(' / ')} MB` : ''}`);
      samples.push(s);
    }
    const workers = samples[0]!.workerRssMb.length;
    const workerCol = workers === 0 ? '–' : Array.from({ length: workers }, (_, w) => median(samples.map((s) => s.workerRssMb[w] ?? NaN)).toFixed(0)).join(' / ');
    rows.push(`| ${c.name} | ${median(samples.map((s) => s.readyMs)).toFixed(0)} | ${median(samples.map((s) => s.rssMb)).toFixed(0)} | ${workerCol} |`);
  }
  return ['### Start-up: time to ready and idle RSS', '', `Median of ${rounds} start(s) per config; RSS read 3 s after the start line (with --workers: the master, then each worker).`, '', ...rows];
}
