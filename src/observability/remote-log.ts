// Remote documents the gateway could not fetch or use (a JWKS, an OpenID discovery document,
// the portal's OpenID provider) in the process log, with the reason. Subscribes to the
// fetcher's diagnostics channel; the URL is logged without its query or credentials.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { type RemoteFetchFailure } from '../base/remote-document.js';
import { remoteFetchFailedChannel } from '../base/events.js';

export function startRemoteFetchLog(logger: Logger): () => void {
  const onFailure = (message: unknown): void => {
    const m = message as RemoteFetchFailure;
    logger.error({ type: 'remote_fetch', what: m.what, url: m.url, reason: m.reason }, `${m.what} at ${m.url} not used: ${m.reason}`);
  };
  subscribe(remoteFetchFailedChannel.name, onFailure);
  return () => unsubscribe(remoteFetchFailedChannel.name, onFailure);
}
