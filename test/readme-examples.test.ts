// Every ```ts block in a README is code: extracted, typechecked against the built packages (as a
// user's file would be), and, when its fence says ```ts runnable, compiled and run in a temp dir.
// A block that needs names from its surroundings declares them (`declare const sink: ...`).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '@daemoneye/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const outDir = join(root, '.readme-examples');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

interface Example {
  readonly readme: string;
  readonly line: number;
  readonly runnable: boolean;
  readonly code: string;
  readonly file: string;
}

/** The fenced ```ts blocks of one Markdown text, with the line each starts on (1-based). */
function extractExamples(markdown: string): { line: number; runnable: boolean; code: string }[] {
  const found: { line: number; runnable: boolean; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)(\s+runnable)?\s*$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    found.push({
      line: start + 1,
      runnable: open[2] !== undefined,
      code: lines.slice(start, end).join('\n'),
    });
    i = end;
  }
  return found;
}

async function readmes(): Promise<string[]> {
  const files = [join(root, 'README.md')];
  for (const group of ['packages', 'apps']) {
    for (const entry of await readdir(join(root, group), { withFileTypes: true })) {
      const file = join(root, group, entry.name, 'README.md');
      if (entry.isDirectory() && existsSync(file)) files.push(file);
    }
  }
  return files.sort();
}

async function collect(): Promise<Example[]> {
  const examples: Example[] = [];
  for (const readme of await readmes()) {
    const name = relative(root, readme).replaceAll(/[\\/]/g, '_').replace(/\.md$/, '');
    for (const [n, block] of extractExamples(await readFile(readme, 'utf8')).entries()) {
      examples.push({
        ...block,
        readme: relative(root, readme),
        file: join(outDir, `${name}_${n + 1}.mts`),
      });
    }
  }
  return examples;
}

describe('extractExamples', () => {
  it('finds ts blocks with their line and the runnable mark, and nothing else', () => {
    const md = [
      '# t',
      '```ts',
      'const a = 1;',
      '```',
      '```sh',
      'ls',
      '```',
      '```ts runnable',
      'a();',
      '```',
    ].join('\n');
    expect(extractExamples(md)).toEqual([
      { line: 3, runnable: false, code: 'const a = 1;' },
      { line: 9, runnable: true, code: 'a();' },
    ]);
  });
});

describe('README examples', () => {
  let examples: Example[] = [];

  beforeAll(async () => {
    examples = await collect();
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    // `export {}` makes every block a module of its own, so blocks never share top-level names.
    for (const example of examples) await writeFile(example.file, `${example.code}\nexport {};\n`);
    await writeFile(
      join(outDir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../tsconfig.base.json',
        compilerOptions: {
          rootDir: '.',
          outDir: 'dist',
          noEmit: false,
          declaration: false,
          declarationMap: false,
          sourceMap: false,
          noUnusedLocals: false,
        },
        include: ['*.mts'],
      }),
    );
  });

  it('has examples to check', () => {
    expect(examples.length).toBeGreaterThan(5);
  });

  it('typecheck as written', async () => {
    const result = await run(process.execPath, [tsc, '-p', join(outDir, 'tsconfig.json')]).then(
      () => '',
      (error: { stdout?: string }) => String(error.stdout ?? error),
    );
    // Point each diagnostic back at the README line it came from.
    const mapped = result
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const hit = /([^/\s]+\.mts)\((\d+),(\d+)\)/.exec(line);
        const example = hit && examples.find((e) => e.file.endsWith(hit[1] ?? ''));
        return example && hit
          ? `${example.readme}:${example.line + Number(hit[2]) - 1}: ${line}`
          : line;
      });
    expect(mapped).toEqual([]);
  }, 120_000);

  it('marked runnable run to completion', async () => {
    const runnable = examples.filter((example) => example.runnable);
    expect(runnable.length).toBeGreaterThan(0);
    for (const example of runnable) {
      const compiled = join(
        outDir,
        'dist',
        example.file.slice(outDir.length + 1).replace(/\.mts$/, '.mjs'),
      );
      const sandbox = await tempDir('de-readme-');
      try {
        // Default endpoints resolve inside the sandbox, never in the user's runtime dir.
        const env = { ...process.env, XDG_RUNTIME_DIR: sandbox.dir, TMPDIR: sandbox.dir };
        await run(process.execPath, [compiled], { cwd: sandbox.dir, env, timeout: 30_000 }).catch(
          (error: unknown) => {
            throw new Error(`${example.readme}:${example.line}: example failed: ${String(error)}`);
          },
        );
      } finally {
        await sandbox.cleanup();
      }
    }
  }, 180_000);
});
