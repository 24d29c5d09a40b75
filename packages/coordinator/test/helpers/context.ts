import { fileURLToPath } from 'node:url';
import { type TempDir, tempDir, testEndpoint } from '@daemoneye/test-utils';
import {
  type CollectorSpec,
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
} from '../../src/index.js';

export const COLLECTOR = fileURLToPath(new URL('../fixtures/collector.mjs', import.meta.url));

/** A spec running the test collector in `mode`. */
export function spec(
  id: string,
  mode = 'normal',
  extra: Partial<CollectorSpec> = {},
): CollectorSpec {
  return { id, kind: 'procmond', command: process.execPath, args: [COLLECTOR, mode], ...extra };
}

export function isRunning(pid: number | null | undefined): boolean {
  if (pid === null || pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A fresh temp dir and endpoint per test; every coordinator made is closed afterwards. */
export function realContext() {
  let dir: TempDir | undefined;
  const made: Coordinator[] = [];
  const pids = new Set<number>();
  return {
    async setup(): Promise<void> {
      dir = await tempDir('de-coord-');
    },
    make(options: Omit<CoordinatorOptions, 'endpoint'>): Coordinator {
      if (dir === undefined) throw new Error('setup() first');
      const c = createCoordinator({ endpoint: testEndpoint(dir.dir), ...options });
      c.on('collector-spawned', (e) => pids.add(e.pid));
      made.push(c);
      return c;
    },
    pids,
    dir(): string {
      return dir?.dir ?? '';
    },
    async teardown(): Promise<void> {
      await Promise.all(made.map((c) => c.close()));
      made.length = 0;
      for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
      pids.clear();
      await dir?.cleanup();
    },
  };
}
