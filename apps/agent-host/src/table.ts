import type { Writable } from 'node:stream';
import type { AgentStatus } from './status.js';
import { formatStatus } from './status.js';

/** What the live table writes to: a stream, and its width when it is a terminal. */
export type TableOutput = Writable & { columns?: number | undefined };

/**
 * Redraws the status table in place on a TTY, once a second; log lines are printed above it with
 * {@link LiveTable.print} and stay. Never used on a non-TTY.
 */
export class LiveTable {
  private timer: NodeJS.Timeout | undefined;
  private lines = 0;
  private running = false;
  /** STATE shown for a collector until a timed redraw showed it (a failure between two frames). */
  private readonly marks = new Map<string, { label: string; shownByTimer: boolean }>();

  constructor(
    private readonly out: TableOutput,
    private readonly snapshot: () => AgentStatus,
    private readonly title = 'daemoneye-agent (Ctrl-C to stop)',
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.running = true;
    this.out.write(this.frame());
    this.timer = setInterval(() => this.redraw(), this.intervalMs);
    this.timer.unref();
  }

  /** Draws the last frame and leaves it; later prints go below it. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.running) return;
    this.out.write(`${this.rewind()}${this.frame()}`);
    this.running = false;
    this.lines = 0;
  }

  /**
   * Prints `text` (whole lines) above the table: clears the frame, writes the text with `write`
   * (stderr for log lines), draws the frame again under it.
   */
  print(text: string, write: (text: string) => void = (t) => this.out.write(t)): void {
    if (!this.running) {
      write(text);
      return;
    }
    this.out.write(this.rewind());
    this.lines = 0;
    write(text);
    this.out.write(this.frame());
  }

  /** Shows `label` as the STATE of collector `id` until at least one timed redraw showed it. */
  mark(id: string, label: string): void {
    this.marks.set(id, { label, shownByTimer: false });
  }

  /** One timed redraw (the timer calls it every `intervalMs`). */
  redraw(): void {
    for (const [id, m] of this.marks) if (m.shownByTimer) this.marks.delete(id);
    this.out.write(`${this.rewind()}${this.frame()}`);
    for (const m of this.marks.values()) m.shownByTimer = true;
  }

  /** Back to the first column (a `^C` echoed there is overwritten), up over the frame, clear. */
  private rewind(): string {
    return this.lines > 0 ? `\r\x1b[${this.lines}A\x1b[J` : '\r\x1b[J';
  }

  private frame(): string {
    const states = new Map([...this.marks].map(([id, m]) => [id, m.label]));
    const text = renderTable(this.snapshot(), this.title, states);
    // Never wider than the terminal: a wrapped line would throw the rewind off.
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    const lines = text
      .slice(0, -1)
      .split('\n')
      .map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    this.lines = lines.length;
    return `${lines.join('\n')}\n`;
  }
}

/** The text of one frame. */
export function renderTable(
  status: AgentStatus,
  title = 'daemoneye-agent (Ctrl-C to stop)',
  states: ReadonlyMap<string, string> = new Map(),
): string {
  return `${title}\n${formatStatus(status, states)}`;
}
