// Every changeset must be one `changesets` can read: a front matter of `"<workspace package>": bump`
// lines between two `---` lines, then the changelog text. A formatter once rewrote these files
// (a package line became a `##` heading and the closing `---` went), which `changeset version`
// would have refused or misread; this test keeps them readable.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

async function workspacePackages(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const group of ['packages', 'apps']) {
    for (const entry of await readdir(join(root, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const text = await readFile(join(root, group, entry.name, 'package.json'), 'utf8');
      const manifest: unknown = JSON.parse(text);
      if (typeof manifest === 'object' && manifest !== null && 'name' in manifest) {
        names.add(String(manifest.name));
      }
    }
  }
  return names;
}

/** The packages and bumps of one changeset, or a description of why it cannot be read. */
function parseChangeset(text: string): { bumps: Map<string, string>; summary: string } {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[0] !== '---') throw new Error('the first line must be ---');
  const close = lines.indexOf('---', 1);
  if (close === -1) throw new Error('the front matter has no closing ---');
  const bumps = new Map<string, string>();
  for (const line of lines.slice(1, close)) {
    if (line.trim() === '') continue;
    const m = /^(["'])(@daemoneye\/[a-z0-9-]+)\1: (major|minor|patch)$/.exec(line);
    if (!m?.[2] || !m[3]) throw new Error(`not a "package": bump line: ${JSON.stringify(line)}`);
    if (bumps.has(m[2])) throw new Error(`${m[2]} is named twice`);
    bumps.set(m[2], m[3]);
  }
  if (bumps.size === 0) throw new Error('the front matter names no package');
  const summary = lines
    .slice(close + 1)
    .join('\n')
    .trim();
  if (summary === '') throw new Error('there is no changelog text');
  return { bumps, summary };
}

describe('changesets', () => {
  it('the parser refuses what a formatter made of one', () => {
    expect(() => parseChangeset('---\n\n## "@daemoneye/proto": minor\n\nText.\n')).toThrow(
      /not a "package": bump line|closing/,
    );
    expect(() => parseChangeset('---\n"@daemoneye/proto": minor\n\nText.\n')).toThrow(/closing/);
    expect(parseChangeset('---\n"@daemoneye/proto": minor\n---\n\nText.\n').bumps).toEqual(
      new Map([['@daemoneye/proto', 'minor']]),
    );
  });

  it('every changeset names workspace packages with a bump and has text', async () => {
    const known = await workspacePackages();
    const dir = join(root, '.changeset');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.md') && f !== 'README.md');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const { bumps } = parseChangeset(await readFile(join(dir, file), 'utf8'));
      for (const name of bumps.keys()) expect(known, `${file} names ${name}`).toContain(name);
    }
  });
});
