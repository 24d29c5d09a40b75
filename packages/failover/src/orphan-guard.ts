import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The guard's shell script. It reads `+PID` / `-PID` lines on stdin (a collector spawned / gone)
 * and, when stdin ends (the supervisor's process exited, even by `kill -9`), SIGKILLs every
 * collector still listed, as a process group first (collectors are group leaders) and then alone.
 * SIGKILL works on a stopped process too, which a collector's own parent-pid watch cannot handle.
 * It ignores the terminal's INT, QUIT, HUP and TSTP.
 */
const SCRIPT = [
  "trap '' INT QUIT HUP TSTP",
  "pids=' '",
  'while IFS= read -r line; do',
  '  case "$line" in',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  '    +*) pids="$pids${line#+} " ;;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  '    -*) id=${line#-}; case "$pids" in *" $id "*) pids="${pids%% $id *} ${pids#* $id }" ;; esac ;;',
  '  esac',
  'done',
  'for p in $pids; do kill -KILL -"$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done',
  'exit 0',
].join('\n');

/**
 * A tiny `/bin/sh` process, in its own session, that outlives the supervisor's process and kills
 * the collectors it leaves behind (POSIX only). Spawned on the first `add`; never throws: if the
 * guard cannot run, collectors are simply not guarded (their own parent-pid watch remains).
 */
export class OrphanGuard {
  #child: ChildProcess | undefined;
  #failed = false;

  /** The guard's pid once it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  add(pid: number): void {
    this.#send(`+${pid}\n`);
  }

  remove(pid: number): void {
    if (this.#child) this.#send(`-${pid}\n`);
  }

  /** Ends the guard: it kills whatever is still listed (nothing, after a clean close) and exits. */
  close(): void {
    this.#child?.stdin?.end();
    this.#child = undefined;
  }

  #send(line: string): void {
    if (this.#failed) return;
    if (!this.#child) {
      try {
        const child = spawn('/bin/sh', ['-c', SCRIPT], {
          stdio: ['pipe', 'ignore', 'ignore'],
          detached: true,
        });
        child.on('error', () => {
          this.#failed = true;
          this.#child = undefined;
        });
        child.stdin?.on('error', () => undefined);
        // Neither the guard nor its pipe keeps the supervisor's process alive.
        child.unref();
        const stdin = child.stdin;
        if (stdin && 'unref' in stdin && typeof stdin.unref === 'function') stdin.unref();
        this.#child = child;
      } catch {
        this.#failed = true;
        return;
      }
    }
    this.#child?.stdin?.write(line);
  }
}
