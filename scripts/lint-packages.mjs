#!/usr/bin/env node
// Checks what each published package would ship, from its BUILT tree (run `pnpm build` first):
// publint (strict, every message fails), attw on the packed tarball (node16 profile: the packages
// ship ESM only and `require()` of them works on Node >= 20.19 (require(esm), proven by
// test/packages.test.ts), so attw's cjs-resolves-to-esm warning is the one rule ignored), and the tarball's file list
// (README, CHANGELOG, LICENSE, entry points, no tests, source maps that point at shipped files).
// Packing uses pnpm, as publishing does (pnpm also rewrites workspace: ranges and adds the root LICENSE).
// Usage: node scripts/lint-packages.mjs [package-name ...]   (default: every non-private package)
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const attwBin = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
const shell = process.platform === 'win32'; // pnpm is a .cmd shim there

async function publishedPackages() {
  const found = [];
  for (const group of ['packages', 'apps']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const entry of await readdir(base, { withFileTypes: true })) {
      const manifestPath = join(base, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifestPath)) continue;
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
      if (manifest.private !== true) found.push({ dir: join(base, entry.name), manifest });
    }
  }
  return found.sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
}

/** Targets of `exports` (every condition), `main` and `types`, as tarball paths. */
function entryFiles(manifest) {
  const out = new Set();
  const walk = (value) => {
    if (typeof value === 'string') out.add(posix.normalize(value));
    else if (value && typeof value === 'object')
      for (const inner of Object.values(value)) walk(inner);
  };
  walk(manifest.exports);
  walk(manifest.main);
  walk(manifest.types);
  return [...out];
}

async function checkTarball(dir, manifest, files) {
  const problems = [];
  const shipped = new Set(files);
  for (const required of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE']) {
    if (!shipped.has(required)) problems.push(`tarball lacks ${required}`);
  }
  for (const entry of entryFiles(manifest)) {
    if (!shipped.has(entry)) problems.push(`entry point ${entry} is not in the tarball`);
  }
  const unmapped = [];
  for (const file of files) {
    if (/\.test\.|(^|\/)test\//.test(file)) problems.push(`tarball ships test file ${file}`);
    if (!file.endsWith('.map')) continue;
    // A map whose sources are not shipped gives consumers broken stack traces and go-to-definition.
    const map = JSON.parse(await readFile(join(dir, file), 'utf8'));
    for (const source of map.sources ?? []) {
      const target = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
      if (!shipped.has(target)) unmapped.push(`${file} -> ${target}`);
    }
  }
  if (unmapped.length > 0) {
    problems.push(
      `${unmapped.length} source-map sources are not shipped (e.g. ${unmapped[0]}): ship them or drop the maps in "files"`,
    );
  }
  return problems;
}

async function lintPackage({ dir, manifest }, workDir) {
  const name = manifest.name;
  const started = performance.now();
  const failures = [];
  const missing = entryFiles(manifest).filter((file) => !existsSync(join(dir, file)));
  if (missing.length > 0) {
    return {
      name,
      ok: false,
      lines: [`not built (missing ${missing.join(', ')}): run \`pnpm build\` first`],
      ms: 0,
    };
  }

  const packDir = await mkdtemp(join(workDir, 'pack-'));
  const { stdout } = await run('pnpm', ['pack', '--json', '--pack-destination', packDir], {
    cwd: dir,
    shell,
  });
  const packed = JSON.parse(stdout);
  const files = packed.files.map((file) => file.path);
  failures.push(...(await checkTarball(dir, manifest, files)));

  const [lint, types] = await Promise.all([
    publint({ pkgDir: dir, strict: true, level: 'suggestion', pack: 'pnpm' }),
    run(
      process.execPath,
      [
        attwBin,
        packed.filename,
        '--profile',
        'node16',
        '--ignore-rules',
        'cjs-resolves-to-esm',
        '--format',
        'ascii',
      ],
      {
        env: { ...process.env, FORCE_COLOR: '0' },
      },
    ).then(
      () => ({ ok: true, output: '' }),
      (error) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
    ),
  ]);
  for (const message of lint.messages) {
    failures.push(`publint ${message.type}: ${formatMessage(message, lint.pkg, { color: false })}`);
  }
  if (!types.ok) failures.push(`attw (node16):\n${types.output.trim()}`);

  return {
    name,
    ok: failures.length === 0,
    lines: failures,
    files: files.length,
    ms: performance.now() - started,
  };
}

const wanted = process.argv.slice(2);
const all = await publishedPackages();
const selected = wanted.length > 0 ? all.filter((pkg) => wanted.includes(pkg.manifest.name)) : all;
if (selected.length === 0) {
  console.error(
    `lint-packages: no published package matches ${wanted.join(', ') || '(none found)'}`,
  );
  process.exit(1);
}

const started = performance.now();
const workDir = await mkdtemp(join(tmpdir(), 'lint-packages-'));
let results;
try {
  results = await Promise.all(selected.map((pkg) => lintPackage(pkg, workDir)));
} finally {
  await rm(workDir, { recursive: true, force: true });
}

let failed = 0;
for (const result of results) {
  if (result.ok) {
    console.log(
      `ok   ${result.name}: publint --strict, attw node16, ${result.files} files (${Math.round(result.ms)} ms)`,
    );
  } else {
    failed++;
    console.log(`FAIL ${result.name}`);
    for (const line of result.lines) console.log(`     ${line.replaceAll('\n', '\n     ')}`);
  }
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `lint-packages: ${results.length - failed} of ${results.length} packages clean in ${seconds} s`,
);
process.exitCode = failed > 0 ? 1 : 0;
