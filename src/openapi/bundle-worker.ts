// The thread that bundles a document for loadSpec (load.ts): json-schema-ref-parser is
// asynchronous, the config load is not. The caller sleeps on `signal` until the answer is
// posted on `port`.
import { workerData, type MessagePort } from 'node:worker_threads';
import { bundleSpec } from './bundle.js';

const { file, port, signal } = workerData as { file: string; port: MessagePort; signal: Int32Array };

function answer(message: unknown): void {
  port.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

bundleSpec(file).then(
  (result) => answer({ result }),
  (err: unknown) => answer({ error: err instanceof Error ? err.message : String(err) }),
);
