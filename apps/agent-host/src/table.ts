import type { Writable } from 'node:stream';
import type { AgentStatus } from './status.js';
import { formatStatus } from './status.js';

/** Redraws the status table in place on a TTY, once a second. Never used on a non-TTY. */
export class LiveTable {
  private timer: NodeJS.Timeout | undefined;
  private lines = 0;

  constructor(
    private readonly out: Writable,
    private readonly snapshot: () => AgentStatus,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.draw();
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private draw(): void {
    const text = renderTable(this.snapshot());
    // Move up over the previous frame and clear it before drawing the new one.
    const rewind = this.lines > 0 ? `\x1b[${this.lines}A\x1b[0J` : '';
    this.out.write(`${rewind}${text}`);
    this.lines = text.split('\n').length - 1;
  }
}

/** The text of one frame. */
export function renderTable(status: AgentStatus): string {
  return `daemoneye-agent (Ctrl-C to stop)\n${formatStatus(status)}`;
}
