import { spawn as nodeSpawn, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { OrphanGuard } from './orphan-guard.js';
import type { CollectorSpec, SpawnFunction, SupervisedChild } from './supervisor-types.js';

const defaultSpawn: SpawnFunction = (command, args, options) => nodeSpawn(command, args, options);

function childEnv(spec: CollectorSpec): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = spec.inheritEnv === false ? {} : { ...process.env };
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/**
 * Starts collector processes from their specs (environment, stdio, working directory, process
 * group) and, with the default spawn on POSIX, keeps the orphan guard's list of live pids.
 */
export class ChildLauncher {
  readonly #spawn: SpawnFunction;
  readonly #stdio: StdioOptions;
  /** Kills collectors left behind if this process dies (POSIX, default spawn only). */
  readonly #guard: OrphanGuard | undefined;

  constructor(spawn: SpawnFunction | undefined, stdio: StdioOptions) {
    this.#spawn = spawn ?? defaultSpawn;
    this.#stdio = stdio;
    this.#guard =
      this.#spawn === defaultSpawn && process.platform !== 'win32' ? new OrphanGuard() : undefined;
  }

  /** Spawns the collector of `spec`; throws what the spawn function throws. */
  launch(spec: CollectorSpec): SupervisedChild {
    const options: SpawnOptions = {
      env: childEnv(spec),
      stdio: this.#stdio,
      windowsHide: true,
      // Its own process group (and session) on POSIX: the terminal's Ctrl-C reaches only the
      // agent, and the orphan guard can kill the collector with what it started.
      ...(this.#guard === undefined ? {} : { detached: true }),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    };
    return this.#spawn(spec.command, spec.args ?? [], options);
  }

  /** A launched child's pid is known: guard it. */
  started(pid: number): void {
    this.#guard?.add(pid);
  }

  /** A guarded child exited. */
  gone(pid: number): void {
    this.#guard?.remove(pid);
  }

  /** Ends the orphan guard (no child is left running). */
  close(): void {
    this.#guard?.close();
  }
}
