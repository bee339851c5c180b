// Failed sign-ins counted per account and per client address in a fixed window: past the
// limit, sign-in answers 429 with Retry-After without checking the password, so a guesser
// gets a handful of tries per window whatever the number of addresses or accounts they use.
export class SignInThrottle {
  readonly #failures = new Map<string, { count: number; resetAt: number }>();
  readonly #max = 200_000;

  constructor(readonly limits: { perAccount: number; perIp: number; windowMs: number }) {}

  /** Seconds to wait when the account or address is over its limit, else 0. */
  blocked(account: string, ip: string, now = Date.now()): number {
    const a = this.#live(`a:${account}`, now);
    const i = this.#live(`i:${ip}`, now);
    let wait = 0;
    if (a !== null && a.count >= this.limits.perAccount) wait = Math.max(wait, a.resetAt - now);
    if (i !== null && i.count >= this.limits.perIp) wait = Math.max(wait, i.resetAt - now);
    return wait === 0 ? 0 : Math.ceil(wait / 1000);
  }

  fail(account: string, ip: string, now = Date.now()): void {
    for (const k of [`a:${account}`, `i:${ip}`]) {
      const e = this.#live(k, now);
      if (e !== null) e.count++;
      else {
        if (this.#failures.size >= this.#max) this.#failures.delete(this.#failures.keys().next().value!);
        this.#failures.set(k, { count: 1, resetAt: now + this.limits.windowMs });
      }
    }
  }

  /** A successful sign-in clears the account's failures (not the address's). */
  succeed(account: string): void {
    this.#failures.delete(`a:${account}`);
  }

  #live(key: string, now: number): { count: number; resetAt: number } | null {
    const e = this.#failures.get(key);
    if (e === undefined) return null;
    if (e.resetAt <= now) {
      this.#failures.delete(key);
      return null;
    }
    return e;
  }
}
