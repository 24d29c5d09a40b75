import { readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, testEndpoint } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveEndpoint } from './endpoint.js';
import {
  EndpointLock,
  identityOf,
  lockPathOf,
  readTokenFile,
  removeIfOwn,
  STALE_LOCK_MS,
  TOKEN_BYTES,
  writeTokenFile,
} from './token-file.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('de-lock-'));
});
// One endpoint per test directory; on win32 its lock and token sit in the user's token directory,
// outside the test directory, so a lock a test leaves behind is removed here.
const endpoint = () => resolveEndpoint(testEndpoint(dir));
afterEach(async () => {
  await unlink(lockPathOf(endpoint())).catch(() => undefined);
  await cleanup();
});
const posix = process.platform !== 'win32';
const notLive = async (): Promise<boolean> => false;

describe('token and endpoint files', () => {
  it('removes a file only while it is still the one it wrote (by inode)', async () => {
    const path = join(dir, 'agent.token');
    const mine = await writeTokenFile(path, new Uint8Array(TOKEN_BYTES));
    // File modes exist on POSIX only (win32 has DACLs, which Node neither sets nor reports).
    if (posix) expect((await stat(path)).mode & 0o777).toBe(0o600);
    await unlink(path);
    await writeFile(path, 'a successor wrote this');
    expect(await removeIfOwn(path, mine)).toBe(false);
    expect(await readFile(path, 'utf8')).toBe('a successor wrote this');
    expect(await removeIfOwn(path, await identityOf(path))).toBe(true);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads a token file of exactly 32 bytes, else ERR_TOKEN_FILE', async () => {
    const path = join(dir, 'agent.token');
    await expect(readTokenFile(path)).rejects.toMatchObject({ code: 'ERR_TOKEN_FILE' });
    await writeFile(path, 'short');
    await expect(readTokenFile(path)).rejects.toMatchObject({ code: 'ERR_TOKEN_FILE' });
    await writeFile(path, Buffer.alloc(TOKEN_BYTES, 7));
    expect((await readTokenFile(path)).length).toBe(TOKEN_BYTES);
  });

  it('lets exactly one of 200 concurrent acquires hold the lock; the rest get ERR_ENDPOINT_IN_USE', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () => EndpointLock.acquire(endpoint(), notLive)),
    );
    const held = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(held).toHaveLength(1);
    for (const r of refused) expect(r.reason).toMatchObject({ code: 'ERR_ENDPOINT_IN_USE' });
    const [winner] = held;
    if (winner?.status !== 'fulfilled') throw new Error('no winner');
    expect(await winner.value.verify()).toBe(true);
    await winner.value.release();
    await expect(stat(lockPathOf(endpoint()))).rejects.toMatchObject({ code: 'ENOENT' });
    const next = await EndpointLock.acquire(endpoint(), notLive);
    await next.release();
  });

  it('takes over a lock whose holder is dead, or is this process without holding it', async () => {
    const path = lockPathOf(endpoint());
    // pid 4999999 is above Linux's default pid_max (2^22) and far above any pid Wine hands out: nobody has it.
    await writeFile(path, '4999999\nold\n');
    const a = await EndpointLock.acquire(endpoint(), notLive);
    expect(await readFile(path, 'utf8')).toMatch(new RegExp(`^${process.pid}\\n`));
    await a.release();
    await writeFile(path, `${process.pid}\nnot-held-by-anyone-here\n`);
    const b = await EndpointLock.acquire(endpoint(), notLive);
    await b.release();
    // Garbage (or a lock being written) is left alone for a few seconds, then taken over.
    await writeFile(path, 'garbage');
    await expect(EndpointLock.acquire(endpoint(), notLive)).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_IN_USE',
    });
    const past = (Date.now() - 10_000) / 1000;
    await utimes(path, past, past);
    const c = await EndpointLock.acquire(endpoint(), notLive);
    await c.release();
  });

  it('keeps a live holder, unless its lock is old and its socket answers nobody (pid reuse)', async () => {
    const path = lockPathOf(endpoint());
    await writeFile(path, `${process.ppid}\nparent\n`);
    await expect(EndpointLock.acquire(endpoint(), notLive)).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_IN_USE',
    });
    const old = (Date.now() - STALE_LOCK_MS - 1000) / 1000;
    await utimes(path, old, old);
    await expect(EndpointLock.acquire(endpoint(), async () => true)).rejects.toMatchObject({
      code: 'ERR_ENDPOINT_IN_USE',
    });
    const taken = await EndpointLock.acquire(endpoint(), notLive);
    expect(await taken.verify()).toBe(true);
    await taken.release();
  });

  it('notices when its lock file was replaced, and then removes nothing', async () => {
    const lock = await EndpointLock.acquire(endpoint(), notLive);
    const path = lockPathOf(endpoint());
    await unlink(path);
    await writeFile(path, 'someone else');
    expect(await lock.verify()).toBe(false);
    await lock.release();
    expect(await readFile(path, 'utf8')).toBe('someone else');
  });
});
