import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AgentStatus } from './status.js';
import { formatStatus, STATUS_WIDTH } from './status.js';
import { LiveTable } from './table.js';

function collector(id: string, over: Partial<AgentStatus['collectors'][number]> = {}) {
  return {
    id,
    kind: id.replace(/-\d+$/, ''),
    pid: 1_234_567,
    state: 'healthy' as const,
    health: 'healthy' as const,
    healthMessage: '',
    inFlight: 3,
    activeTasks: 9,
    queueDepth: 12_345,
    score: 2089.8,
    restarts: 12,
    results: 1_234_567,
    lastHeartbeatAgoMs: 9_500,
    retryInMs: null,
    lastKill: null,
    ...over,
  };
}

function status(collectors = [collector('procmond-1'), collector('netmond-1')]): AgentStatus {
  return {
    state: 'running',
    endpoint: '/run/daemoneye/agent.sock',
    collectors,
    tasks: { accepted: 123_456, completed: 123_450, failed: 6, inFlight: 6 },
    aggregation: { begun: 9, completed: 123_456, partial: 12, late: 3, duplicates: 9_999_999 },
    pendingSets: 4,
    rounds: 99_999,
    skippedRounds: 12,
    lastLatencyMs: 12.345,
  } as unknown as AgentStatus;
}

class Screen extends Writable {
  text = '';
  columns = 80;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('formatStatus', () => {
  it('fits 80 columns, shows the agent in-flight count as ACTIVE and a legend', () => {
    const text = formatStatus(status());
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(STATUS_WIDTH);
    const [header, row] = text.split('\n');
    expect(header).toMatch(/^ID +PID +STATE +ACTIVE +QUEUE\* +SCORE\* +RESTARTS +RESULTS +HB$/);
    // ACTIVE is inFlight (3), not the heartbeat's activeTasks (9).
    expect(row?.split(/ +/)).toEqual([
      'procmond-1',
      '1234567',
      'healthy',
      '3',
      '12345',
      '2089.8',
      '12',
      '1234567',
      '9.5s',
    ]);
    expect(text).toMatch(/SCORE\*: .*HB: age of the last heartbeat.*\*: as reported/);
  });
  it('shows an overriding state', () => {
    expect(formatStatus(status(), new Map([['netmond-1', 'restarting']]))).toMatch(
      /netmond-1 +1234567 +restarting/,
    );
  });
});

describe('LiveTable', () => {
  it('prints log lines above the frame: \\r, up over the frame, clear, the line, the frame again', () => {
    const screen = new Screen();
    const table = new LiveTable(screen, () => status(), 'title', 3_600_000);
    table.start();
    const frame = screen.text;
    const height = frame.split('\n').length - 1;
    screen.text = '';
    const logged: string[] = [];
    table.print('WARN netmond-1 failed\n', (t) => logged.push(t));
    expect(logged).toEqual(['WARN netmond-1 failed\n']);
    expect(screen.text).toBe(`\r\x1b[${height}A\x1b[J${frame}`);
    screen.text = '';
    table.redraw();
    expect(screen.text.startsWith(`\r\x1b[${height}A\x1b[J`)).toBe(true);
    table.stop();
    screen.text = '';
    table.print('after\n', (t) => logged.push(t));
    expect(screen.text).toBe('');
    expect(logged.at(-1)).toBe('after\n');
  });

  it('shows a marked state until one timed redraw showed it', () => {
    const screen = new Screen();
    const table = new LiveTable(screen, () => status(), 'title', 3_600_000);
    table.start();
    table.mark('netmond-1', 'restarting');
    screen.text = '';
    table.print('x\n', () => undefined);
    expect(screen.text).toMatch(/netmond-1 +\d+ +restarting/);
    screen.text = '';
    table.redraw();
    expect(screen.text).toMatch(/netmond-1 +\d+ +restarting/);
    screen.text = '';
    table.redraw();
    expect(screen.text).toMatch(/netmond-1 +\d+ +healthy/);
    table.stop();
  });

  it('cuts lines to a narrow terminal so the rewind stays right', () => {
    const screen = new Screen();
    screen.columns = 40;
    const table = new LiveTable(screen, () => status(), 'title', 3_600_000);
    table.start();
    for (const line of screen.text.split('\n')) expect(line.length).toBeLessThanOrEqual(39);
    table.stop();
  });
});
