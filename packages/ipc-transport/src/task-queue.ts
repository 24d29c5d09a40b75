import type { TaskAssignment } from '@daemoneye/proto';

/** The collector's buffer behind `tasks()`: bounded, handed to waiting `next()` calls first. */
export class TaskQueue {
  #iterating = false;
  readonly #buffered: TaskAssignment[] = [];
  #waiters: ((result: IteratorResult<TaskAssignment>) => void)[] = [];

  constructor(private readonly max: number) {}

  get iterating(): boolean {
    return this.#iterating;
  }

  /** True when an iterator exists, nobody waits and the buffer holds `max` tasks. */
  get full(): boolean {
    return this.#iterating && this.#waiters.length === 0 && this.#buffered.length >= this.max;
  }

  /** Hands a task to a waiter or buffers it (only while someone iterates). */
  offer(task: TaskAssignment): void {
    if (!this.#iterating) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter({ value: task, done: false });
    else this.#buffered.push(task);
  }

  /** Ends every pending `next()`. */
  end(): void {
    for (const waiter of this.#waiters) waiter({ value: undefined, done: true });
    this.#waiters = [];
  }

  iterator(closed: () => boolean): AsyncIterableIterator<TaskAssignment> {
    this.#iterating = true;
    const iterator: AsyncIterableIterator<TaskAssignment> = {
      next: () => {
        const task = this.#buffered.shift();
        if (task) return Promise.resolve({ value: task, done: false });
        if (closed()) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        this.#iterating = false;
        this.#buffered.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
