/** Options of {@link until}. */
export interface UntilOptions {
  /** Give up after this many ms (real time). Default 10_000. */
  readonly timeoutMs?: number;
  /** Poll interval in ms. Default 20. */
  readonly everyMs?: number;
  /** What is awaited, for the error message. */
  readonly what?: string;
}

/**
 * Polls `check` until it returns a value other than `undefined` and `false`, or rejects after
 * `timeoutMs` naming `what`. Every poll has a deadline: there is no unbounded wait.
 */
export async function until<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: UntilOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const everyMs = options.everyMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`until: ${options.what ?? 'condition'} not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
