import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh private directory under the OS temp dir (mode 0700 from mkdtemp) and its removal. */
export interface TempDir {
  readonly dir: string;
  cleanup(): Promise<void>;
}

/** Makes a fresh temp directory; `cleanup()` removes it and everything in it. */
export async function tempDir(prefix = 'de-test-'): Promise<TempDir> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
