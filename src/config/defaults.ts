// Defaults of the config's settings, apart from the compiler so that the master of
// `--workers N` can read its few settings without loading it.
export const DEFAULTS = {
  proxy: '0.0.0.0:8000',
  status: '127.0.0.1:8100',
  maxHeaderBytes: 16_384,
  maxBodyBytes: 10 * 1024 * 1024,
  headerTimeout: '10s',
  idleTimeout: '60s',
  requestTimeout: '5m',
  maxConnections: 16_384,
  connectTimeout: '2s',
  readTimeout: '30s',
  drainTimeout: '30s',
  replayBuffer: 65_536,
  websocketIdleTimeout: '5m',
  engine: 'native',
} as const;

/** The config store of `mode: database` when `store.url` is not set (relative to the working directory). */
export const DEFAULT_STORE_URL = 'sqlite:./northgate.db';
