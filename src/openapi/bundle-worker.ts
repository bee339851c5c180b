// The thread that bundles a document for loadSpec (load.ts): json-schema-ref-parser is
// asynchronous, the config load is not. The caller sleeps on `signal` until the answer is
// posted on `port`; the bundler is imported here, inside the catch, so that even a failure
// to load it is an answer rather than a silent thread the caller would wait out.
import { workerData, type MessagePort } from 'node:worker_threads';

const { file, port, signal } = workerData as { file: string; port: MessagePort; signal: Int32Array };

function answer(message: unknown): void {
  port.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

import('./bundle.js')
  .then(({ bundleSpec }) => bundleSpec(file))
  .then(
    (result) => answer({ result }),
    (err: unknown) => answer({ error: err instanceof Error ? err.message : String(err) }),
  );
