// The synchronous entry to bundle.ts: the config load and the snapshot compile are
// synchronous, json-schema-ref-parser is not, so a worker thread bundles the document while
// this thread waits for it (bounded). Bundles are kept per file and reused while none of the
// files they read changed (size or time), so a reload does not read an unchanged document.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { BundledSpec, SpecProblem } from './bundle.js';

const WAIT_MS = 15_000;
const CACHE_CAP = 64;
const cache = new Map<string, BundledSpec>();

/** The bundled document of `file`, or its problems (located in the file that has them). */
export function loadSpec(file: string): BundledSpec | SpecProblem[] {
  const path = resolve(file);
  const cached = cache.get(path);
  if (cached !== undefined && unchanged(cached)) return cached;
  const result = bundleInWorker(path);
  if (!Array.isArray(result)) {
    if (cache.size >= CACHE_CAP) cache.delete(cache.keys().next().value!);
    cache.set(path, result);
  }
  return result;
}

function unchanged(spec: BundledSpec): boolean {
  try {
    return spec.files.every((f) => {
      const st = statSync(f.path);
      return st.size === f.size && st.mtimeMs === f.mtimeMs;
    });
  } catch {
    return false;
  }
}

function bundleInWorker(path: string): BundledSpec | SpecProblem[] {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./bundle-worker.js', import.meta.url), { workerData: { file: path, port: port2, signal }, transferList: [port2], execArgv: [], stdout: false, stderr: false });
  try {
    if (Atomics.wait(signal, 0, 0, WAIT_MS) === 'timed-out') return [{ file: path, line: 1, col: 1, message: `reading the document took longer than ${WAIT_MS / 1000} s` }];
    const message = receiveMessageOnPort(port1)?.message as { result?: BundledSpec | SpecProblem[]; error?: string } | undefined;
    if (message?.result !== undefined) return message.result;
    return [{ file: path, line: 1, col: 1, message: `cannot bundle the document: ${message?.error ?? 'the reader stopped'}` }];
  } finally {
    port1.close();
    void worker.terminate();
  }
}
