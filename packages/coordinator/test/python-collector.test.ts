import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '@daemoneye/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRunning, realContext, spec } from './helpers/context.js';

const PYTHON = '/usr/bin/python3';
const PROTO_DIR = fileURLToPath(new URL('../../proto/proto', import.meta.url));
const COLLECTOR = fileURLToPath(new URL('./fixtures/pycollector.py', import.meta.url));

function hasPythonProtobuf(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import google.protobuf'], { stdio: 'ignore' });
    execFileSync('protoc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Needs Debian's python3-protobuf and protobuf-compiler (.ci/run installs them). Not on win32:
// the fixture speaks AF_UNIX (Windows endpoints are named pipes), and under Wine /usr/bin/python3
// is a Linux program that Windows node.exe cannot spawn nor reach over a Windows pipe.
const runnable = process.platform !== 'win32' && existsSync(PYTHON) && hasPythonProtobuf();
const ctx = realContext();
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());

describe.skipIf(!runnable)('a collector written in Python (Google protobuf runtime)', () => {
  it('handshake, heartbeats, fan-out results merged with a Node collector’s, kill -9 and restart', async () => {
    const gen = join(ctx.dir(), 'py');
    mkdirSync(gen, { recursive: true });
    execFileSync('protoc', [
      `-I${PROTO_DIR}`,
      `--python_out=${gen}`,
      'daemoneye/v1/envelope.proto',
    ]);
    const c = ctx.make({
      collectors: [
        spec('node-1'),
        {
          id: 'py-1',
          kind: 'procmond',
          command: PYTHON,
          args: [COLLECTOR],
          env: { PYTHONPATH: gen },
        },
      ],
      heartbeatIntervalMs: 200,
      failover: { backoff: { initialDelayMs: 20, jitter: 0 } },
    });
    const printed: string[] = [];
    c.on('collector-stderr', (e) => printed.push(`[${e.id}] ${e.line}`));
    expect(await c.start()).toEqual({ ready: ['node-1', 'py-1'], missing: [] });
    await until(() => (c.status().collectors[1]?.lastHeartbeatAgoMs ?? -1) >= 0);
    const result = await c.fanOut({ kind: 'enumerate' });
    expect(result).toMatchObject({ complete: true, missing: [] });
    expect([...result.expected].sort()).toEqual(['node-1', 'py-1']);
    const shared = result.results.find((r) => r.key === 'shared');
    // Same content from both languages: agreement, not a conflict (the time is not content).
    expect(shared?.conflict).toBe(false);
    expect([...(shared?.sources ?? [])].sort()).toEqual(['node-1', 'py-1']);
    expect(result.results.find((r) => r.key === 'own:py-1')?.result.attributes).toEqual({
      lang: 'python',
    });

    const pid = c.status().collectors[1]?.pid ?? -1;
    process.kill(pid, 'SIGKILL');
    await until(() => {
      const py = c.status().collectors[1];
      return py?.state === 'healthy' && py.pid !== pid && py.restarts === 1;
    });
    expect(isRunning(pid)).toBe(false);
    const again = await c.fanOut({ kind: 'enumerate' });
    expect(again.complete).toBe(true);
    expect(again.responded).toContain('py-1');
    process.stdout.write(`python collector printed:\n${printed.join('\n')}\n`);
    expect(printed.some((l) => l.includes('welcomed'))).toBe(true);
  });
});
