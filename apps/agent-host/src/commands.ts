import { accessSync, constants, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join } from 'node:path';
import { type CollectorPlan, UsageError } from './settings.js';

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function executable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `command` resolves (a path, or a name looked up in PATH), or undefined. */
export function resolveCommand(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (isAbsolute(command) || command.includes('/') || command.includes('\\')) {
    return executable(command) ? command : undefined;
  }
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    for (const ext of exts) {
      const candidate = join(dir, command + ext);
      if (executable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Refuses, before anything starts, a collector command that does not exist or cannot be run. */
export function checkCommands(plans: readonly CollectorPlan[]): void {
  for (const plan of plans) {
    const command = plan.command?.[0];
    if (command === undefined || plan.count === 0) continue;
    if (resolveCommand(command) === undefined) {
      throw new UsageError(
        `the ${plan.kind} collector command ${JSON.stringify(command)} does not exist or is not executable`,
      );
    }
    // A Node.js collector (--collector-script): its script must be a file, or it crash-loops.
    const script = plan.command?.[1];
    const node = command === process.execPath || /^node(\.exe)?$/i.test(basename(command));
    if (node && script !== undefined && !script.startsWith('-') && !isFile(script)) {
      throw new UsageError(
        `the ${plan.kind} collector script ${JSON.stringify(script)} does not exist or is not a file`,
      );
    }
  }
}
