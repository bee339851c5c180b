// What stops `northgate start` before it serves: printed as one line on stderr, never a stack.
// A refusal is about the config (exit 2, like an invalid file); a start failure is about the
// host — an address in use or not permitted, a store that cannot be opened (exit 3). The codes
// are documented in docs/operations.md ("Exit codes").

/** The config asks for something the gateway will not do (an unsafe admin address): exit 2. */
export class StartRefusal extends Error {
  readonly exitCode: number = 2;
}

/** The host cannot give the gateway what a valid config asks for: exit 3. */
export class StartFailure extends StartRefusal {
  override readonly exitCode: number = 3;
}

export const EXIT_CONFIG = 2;
export const EXIT_START_FAILURE = 3;

/** A listener that could not bind, named by its config key (`listen.proxy[0]`, `listen.status`...). */
export function listenFailure(listener: string, address: string, err: unknown): StartFailure {
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === 'EADDRINUSE'
      ? 'the address is already in use (another process listens there, or another listener of this config)'
      : e.code === 'EACCES' || e.code === 'EPERM'
        ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
        : e.code === 'EADDRNOTAVAIL'
          ? 'no network interface of this host has that address'
          : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
            ? 'the host name does not resolve'
            : (e.message ?? String(err));
  return new StartFailure(`cannot listen on ${address} (${listener}): ${why}`, { cause: err });
}

/** Whether `err` is a socket error from listen()/bind(), which `listenFailure` describes. */
export function isListenError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | null;
  return e !== null && typeof e === 'object' && (e.syscall === 'listen' || e.syscall === 'bind' || e.syscall === 'getaddrinfo');
}
