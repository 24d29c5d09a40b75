import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Cursor } from '../src/wire.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('pnpm gen on every platform', () => {
  it('buf.gen.yaml runs the plugin through node, not the .bin shell shim, and cleans src/gen', () => {
    const config = readFileSync(new URL('../buf.gen.yaml', import.meta.url), 'utf8');
    expect(config).toMatch(/^\s*- local: \[node, scripts\/ts-proto-plugin\.mjs\]$/m);
    expect(config).not.toMatch(/^\s*- local: \.\/node_modules/m);
    expect(config).toMatch(/^clean: true$/m);
  });

  it('the wrapper starts ts-proto: an empty CodeGeneratorRequest gets a valid, empty response', () => {
    // An empty request (no files) is a valid protobuf message; ts-proto answers with a response
    // that lists no files. A wrapper that failed to load the plugin would exit non-zero.
    const run = spawnSync(process.execPath, ['scripts/ts-proto-plugin.mjs'], {
      cwd: root,
      input: new Uint8Array(),
      timeout: 20_000,
    });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(run.stderr.toString()).toBe('');
    // A CodeGeneratorResponse that lists no files (field 15) and says which features it supports
    // (field 2): ts-proto really ran.
    const response = run.stdout;
    const cursor = new Cursor(response, 0, response.length);
    const fields: number[] = [];
    while (cursor.pos < cursor.end) {
      const tag = cursor.tag();
      fields.push(tag >>> 3);
      cursor.skip(tag);
    }
    expect(fields).toContain(2);
    expect(fields).not.toContain(15);
  });
});
