// One broker per endpoint (issue 12, item 4): concurrent starts, teardown that touches only its
// own files, and a live socket file deleted under a running broker.
import { once } from 'node:events';
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { FakeClock, tempDir, until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, CollectorClient, type EndpointLoss, resolveEndpoint } from '../src/index.js';
import { lockPathOf } from '../src/token-file.js';
import { type Child, spawnFixture, testEndpoint } from './helpers.js';

const posix = process.platform !== 'win32';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
let brokers: Broker[] = [];
let clients: CollectorClient[] = [];
let children: Child[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('de-one-'));
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await Promise.all(brokers.map((b) => b.close()));
  brokers = [];
  clients = [];
  children = [];
  await cleanup();
});

const socketPath = (): string => testEndpoint(dir);
const tokenPath = (): string => resolveEndpoint(socketPath()).tokenPath;
const lockPath = (): string => lockPathOf(resolveEndpoint(socketPath()));

async function connectClient(id: string): Promise<CollectorClient> {
  const client = new CollectorClient({
    endpoint: socketPath(),
    collectorId: id,
    kind: 'test',
    reconnect: false,
  });
  clients.push(client);
  await client.connect();
  return client;
}

describe('one broker per endpoint', () => {
  it('200 concurrent listen() in one process: exactly one listens, the rest ERR_ENDPOINT_IN_USE, nothing of the winner touched', async () => {
    brokers = Array.from(
      { length: 200 },
      () => new Broker({ endpoint: socketPath(), endpointCheckIntervalMs: 0 }),
    );
    const results = await Promise.allSettled(brokers.map((b) => b.listen()));
    const winners = brokers.filter((b) => b.state === 'listening');
    expect(winners).toHaveLength(1);
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [r.reason.code] : []));
    expect(codes).toHaveLength(199);
    expect(new Set(codes)).toEqual(new Set(['ERR_ENDPOINT_IN_USE']));
    const token = await readFile(tokenPath());
    // The losers close: the winner's socket and token stay.
    await Promise.all(brokers.filter((b) => b.state !== 'listening').map((b) => b.close()));
    expect((await readFile(tokenPath())).equals(token)).toBe(true);
    if (posix) await stat(socketPath()); // a pipe is no file to stat on win32
    await connectClient('after-race');
    expect(winners[0]?.collector('after-race')).toBeDefined();
  });

  it('200 concurrent listen() across 8 processes: exactly one listens', async () => {
    children = Array.from({ length: 8 }, () =>
      spawnFixture('racer.mjs', { DE_ENDPOINT: socketPath(), DE_BROKERS: '25' }),
    );
    await Promise.all(children.map((c) => c.waitType('ready', 20_000)));
    for (const child of children) child.send({ type: 'go' });
    const reports = await Promise.all(children.map((c) => c.waitType('raced', 20_000)));
    const won = reports.reduce((n, r) => n + Number(r.won), 0);
    const codes = reports.flatMap((r) => (Array.isArray(r.codes) ? r.codes : []));
    expect(won).toBe(1);
    expect(codes).toHaveLength(199);
    expect(new Set(codes)).toEqual(new Set(['ERR_ENDPOINT_IN_USE']));
    await stat(tokenPath());
    await connectClient('after-process-race');
  });

  it('a broker whose token file was replaced removes only what is still its own on close', async () => {
    const broker = new Broker({ endpoint: socketPath(), endpointCheckIntervalMs: 0 });
    brokers.push(broker);
    await broker.listen();
    await unlink(tokenPath());
    await writeFile(tokenPath(), 'written by someone else');
    await broker.close();
    expect(await readFile(tokenPath(), 'utf8')).toBe('written by someone else');
    if (posix) await expect(stat(socketPath())).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(lockPath())).rejects.toMatchObject({ code: 'ENOENT' });
    await unlink(tokenPath()); // on win32 it sits outside the test directory
  });

  it('notices its live socket and token files deleted, re-creates them (events, counters) and keeps its sessions', async () => {
    const clock = new FakeClock();
    const broker = new Broker({ endpoint: socketPath(), clock, endpointCheckIntervalMs: 1000 });
    brokers.push(broker);
    await broker.listen();
    const before = await connectClient('before');
    const losses: EndpointLoss[] = [];
    broker.on('endpoint-lost', (loss) => losses.push(loss));
    // A pipe is no file that can be deleted on win32: there only the token file goes missing.
    const expected: EndpointLoss[] = [
      ...(posix ? [{ what: 'socket' as const, recreated: true }] : []),
      { what: 'token', recreated: true },
    ];
    if (posix) await unlink(socketPath());
    await unlink(tokenPath());
    clock.advance(1000);
    await until(() => losses.length === expected.length, { what: 'the endpoint-lost events' });
    expect(losses).toEqual(expected);
    expect(broker.stats()).toMatchObject({
      endpointLost: expected.length,
      endpointRecreated: expected.length,
    });
    if (posix) expect((await stat(socketPath())).mode & 0o777).toBe(0o600);
    expect((await readFile(tokenPath())).length).toBe(32);
    // New collectors reach it again; the old session never noticed.
    await connectClient('after');
    expect(before.state).toBe('open');
    expect(
      broker
        .collectors()
        .map((c) => c.collectorId)
        .sort(),
    ).toEqual(['after', 'before']);
    // Nothing more to report on the next check.
    clock.advance(1000);
    await until(() => clock.timerCount > 0, { what: 'the next check' });
    expect(losses).toHaveLength(expected.length);
    await broker.close();
    if (posix) await expect(stat(socketPath())).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(tokenPath())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // A pipe name is not a file on win32: nothing else can take its path as a file (POSIX only).
  it.skipIf(!posix)(
    'reports ERR_ENDPOINT_LOST when something else took the socket path, and leaves it alone',
    async () => {
      const clock = new FakeClock();
      const broker = new Broker({ endpoint: socketPath(), clock, endpointCheckIntervalMs: 50 });
      brokers.push(broker);
      await broker.listen();
      const lost = once(broker, 'endpoint-lost');
      await unlink(socketPath());
      await writeFile(socketPath(), 'not ours');
      clock.advance(50);
      const [loss] = (await lost) as [EndpointLoss];
      expect(loss).toMatchObject({
        what: 'socket',
        recreated: false,
        error: { code: 'ERR_ENDPOINT_LOST' },
      });
      expect(broker.stats()).toMatchObject({ endpointLost: 1, endpointRecreated: 0 });
      await broker.close();
      expect(await readFile(socketPath(), 'utf8')).toBe('not ours');
    },
  );
});
