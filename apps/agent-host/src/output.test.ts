import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeLine, openFileSink, openOutput, streamSink } from './output.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'de-out-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('file sink', () => {
  it('appends one JSON document per line, bigints as strings', async () => {
    const path = join(dir, 'out.ndjson');
    const errors: Error[] = [];
    const sink = await openFileSink(path, (e) => errors.push(e));
    sink.write({ a: 1, b: 2n });
    sink.write({ c: 'x' });
    await sink.close();
    expect(await readFile(path, 'utf8')).toBe('{"a":1,"b":"2"}\n{"c":"x"}\n');
    expect(errors).toEqual([]);
  });

  it('gives up with a clear error past maxQueuedLines and keeps only whole lines', async () => {
    const path = join(dir, 'out.ndjson');
    const errors: Error[] = [];
    const sink = await openFileSink(path, (e) => errors.push(e), 2);
    for (let i = 0; i < 10; i++) sink.write({ i });
    await sink.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/output backlog of 2 lines/);
    expect(sink.error).toBe(errors[0]);
    const text = await readFile(path, 'utf8');
    expect(text.endsWith('\n') || text === '').toBe(true);
    for (const line of text.split('\n').filter(Boolean))
      expect(() => JSON.parse(line)).not.toThrow();
  });

  // Linux: /dev/full (every write fails with ENOSPC) exists only there; Windows has no such device.
  it.skipIf(process.platform !== 'linux')(
    'reports a full disk once and writes nothing more',
    async () => {
      const errors: Error[] = [];
      const sink = await openFileSink('/dev/full', (e) => errors.push(e));
      sink.write({ a: 1 });
      sink.write({ b: 2 });
      await sink.close();
      expect(errors).toHaveLength(1);
      expect(errors[0]?.message).toMatch(/ENOSPC/);
    },
  );
});

describe('line size and serialisation', () => {
  const results = Array.from({ length: 1000 }, (_, i) => ({
    fingerprint: `f${i}`,
    subject: 'x'.repeat(100),
  }));
  const record = { type: 'result', correlationId: 'c1', results };

  it('writes an over-long line truncated, valid JSON, with a count of what was cut', async () => {
    const path = join(dir, 'out.ndjson');
    const sink = await openFileSink(path, () => undefined, { maxLineBytes: 10_000 });
    const outcome = sink.write(record);
    await sink.close();
    expect(outcome.status).toBe('truncated');
    const text = await readFile(path, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(10_000);
    const line = JSON.parse(text) as {
      correlationId: string;
      results: unknown[];
      truncated: {
        originalBytes: number;
        keptResults: number;
        cutResults: number;
        cutBytes: number;
      };
    };
    expect(line.correlationId).toBe('c1');
    expect(line.results.length).toBe(line.truncated.keptResults);
    expect(line.truncated.keptResults).toBeGreaterThan(0);
    expect(line.truncated.keptResults + line.truncated.cutResults).toBe(1000);
    const whole = Buffer.byteLength(JSON.stringify(record)) + 1;
    expect(line.truncated.originalBytes).toBe(whole);
    expect(line.truncated.cutBytes).toBe(whole - Buffer.byteLength(text));
    expect(sink.stats).toMatchObject({
      lines: 1,
      truncated: 1,
      truncatedBytes: whole - Buffer.byteLength(text),
    });
  });

  it('cuts a record without results down to its identifying fields', () => {
    const encoded = encodeLine({ type: 'event', topic: 't', event: 'y'.repeat(5000) }, 1000);
    expect(encoded.status).toBe('truncated');
    const line = JSON.parse(encoded.line.toString()) as Record<string, unknown>;
    expect(line).toMatchObject({ type: 'event', topic: 't' });
    const whole =
      Buffer.byteLength(JSON.stringify({ type: 'event', topic: 't', event: 'y'.repeat(5000) })) + 1;
    expect(line.truncated).toMatchObject({ originalBytes: whole });
  });

  it('turns an unserialisable record into an error line and counts it', async () => {
    const path = join(dir, 'out.ndjson');
    const sink = await openFileSink(path, () => undefined);
    const cyclic: Record<string, unknown> = { type: 'result', correlationId: 'c2' };
    cyclic.self = cyclic;
    const outcome = sink.write(cyclic);
    sink.write({ after: true });
    await sink.close();
    expect(outcome.status).toBe('unserialisable');
    expect(outcome.status === 'unserialisable' && outcome.reason).toMatch(/circular/i);
    const [first, second] = (await readFile(path, 'utf8')).trim().split('\n');
    expect(JSON.parse(first ?? '')).toMatchObject({
      type: 'error',
      error: 'unserialisable',
      correlationId: 'c2',
    });
    expect(JSON.parse(second ?? '')).toEqual({ after: true });
    expect(sink.stats.unserialisable).toBe(1);
  });
});

describe('stream sink (stdout)', () => {
  const stuck = (): Writable =>
    new Writable({
      highWaterMark: 1,
      write(_chunk, _encoding, _callback) {
        // never calls back: a pipe nobody reads
      },
    });

  it('fails with a backlog error past maxQueuedLines instead of growing', () => {
    const errors: Error[] = [];
    const sink = streamSink(stuck(), 'stdout', (e) => errors.push(e), { maxQueuedLines: 3 });
    const outcomes = Array.from({ length: 6 }, (_, i) => sink.write({ i }).status);
    expect(outcomes).toEqual(['written', 'written', 'written', 'dropped', 'dropped', 'dropped']);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/output backlog of 3 lines: stdout/);
    expect(sink.stats.dropped).toBe(3);
  });

  it('closes within closeTimeoutMs when nobody reads, reporting the lost lines', async () => {
    const errors: Error[] = [];
    const sink = streamSink(stuck(), 'stdout', (e) => errors.push(e), { closeTimeoutMs: 50 });
    sink.write({ a: 1 });
    await sink.close();
    expect(errors[0]?.message).toMatch(/did not drain within 50 ms; 1 lines lost/);
  });
});

// Windows has no FIFOs in the file system (no mkfifo; its named pipes live in \\.\pipe\ and are
// not files an output path can name).
describe.skipIf(process.platform === 'win32')('FIFO output (win32: no mkfifo)', () => {
  it('waits for a reader without blocking, says so, then writes as a stream (no ESPIPE)', async () => {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    const waiting: string[] = [];
    const errors: Error[] = [];
    const opening = openOutput(path, (e) => errors.push(e), {
      fifoPollMs: 10,
      onWaiting: (what) => waiting.push(what),
    });
    // The event loop runs while the FIFO has no reader.
    await new Promise<void>((done) => {
      const tick = (): void => (waiting.length > 0 ? done() : void setTimeout(tick, 5));
      tick();
    });
    expect(waiting[0]).toMatch(/FIFO with no reader; waiting/);
    const reader = spawn('cat', [path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    reader.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const sink = await opening;
    for (let i = 0; i < 100; i++) sink.write({ i, pad: 'p'.repeat(1000) });
    await sink.close();
    await new Promise((done) => reader.on('close', done));
    expect(errors).toEqual([]);
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(100);
    expect(JSON.parse(lines[99] ?? '')).toMatchObject({ i: 99 });
  });

  it('a wait for a reader is aborted by the signal', async () => {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    const controller = new AbortController();
    const opening = openOutput(path, () => undefined, {
      fifoPollMs: 10,
      signal: controller.signal,
      onWaiting: () => controller.abort(new Error('SIGTERM while opening the output')),
    });
    await expect(opening).rejects.toThrow(/SIGTERM while opening/);
  });
});
