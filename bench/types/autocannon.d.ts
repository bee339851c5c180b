// Minimal local types for the parts of autocannon 8 the benchmark uses.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    timeout?: number;
    headers?: Record<string, string>;
  }
  interface AutocannonResult {
    duration: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    requests: { total: number };
  }
  interface AutocannonInstance extends EventEmitter {
    stop(): void;
  }
  function autocannon(
    opts: AutocannonOptions,
    cb: (err: Error | null, result: AutocannonResult) => void,
  ): AutocannonInstance;
  export default autocannon;
}
