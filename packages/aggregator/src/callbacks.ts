import { AggregatorError } from './errors.js';

type CallbackError = AggregatorError<'ERR_AGGREGATOR_CALLBACK_FAILED'>;

/**
 * The callback policy (CONTRIBUTING): a throwing user callback is caught, the aggregator finishes
 * its own work, then an `ERR_AGGREGATOR_CALLBACK_FAILED` (cause = the throw) goes to
 * `onCallbackError`, or without it is re-thrown on a microtask. Inside a batch (`hold`) reports
 * wait until the batch is committed (`release`), since the handler may re-enter.
 */
export class CallbackErrors {
  readonly #handler: ((error: CallbackError) => void) | undefined;
  #held: CallbackError[] | undefined;
  count = 0;

  constructor(handler: ((error: CallbackError) => void) | undefined) {
    this.#handler = handler;
  }

  /** Counts and reports that `callback` threw `cause` while handling `correlationId`. */
  report(callback: string, correlationId: string, cause: unknown): void {
    this.count++;
    this.#deliver(
      new AggregatorError(
        'ERR_AGGREGATOR_CALLBACK_FAILED',
        `${callback} threw for correlation id "${correlationId}"`,
        { cause },
      ),
    );
  }

  /** Starts holding reports (a batch); returns what `release` needs to restore. */
  hold(): CallbackError[] | undefined {
    const outer = this.#held;
    this.#held = [];
    return outer;
  }

  /** Ends the batch begun by the matching `hold`, delivering what it held. */
  release(outer: CallbackError[] | undefined): void {
    const errors = this.#held ?? [];
    this.#held = outer;
    for (const error of errors) this.#deliver(error);
  }

  #deliver(error: CallbackError): void {
    if (this.#held !== undefined) {
      this.#held.push(error);
      return;
    }
    const handler = this.#handler;
    if (handler !== undefined) {
      try {
        handler(error);
        return;
      } catch (handlerError) {
        queueMicrotask(() => {
          throw handlerError;
        });
        return;
      }
    }
    // Like an error thrown by any event listener: loud (uncaught), but after our state is consistent.
    queueMicrotask(() => {
      throw error;
    });
  }
}
