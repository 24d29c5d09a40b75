import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileSink } from './output.js';

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
