import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Scan, scanRecords } from './records.js';

/**
 * Reads the live segment of a journal directory without changing anything (for tools and tests):
 * the whole records, where the valid part ends and why a scan stopped early. Throws the fs error
 * when the directory or segment cannot be read.
 */
export function readJournal(dir: string): Scan & { readonly path: string; readonly bytes: number } {
  const name = readdirSync(dir)
    .filter((n) => /^journal-\d{1,12}\.seg$/.test(n))
    .sort()
    .at(-1);
  if (name === undefined)
    return { records: [], validBytes: 0, stoppedAt: undefined, path: '', bytes: 0 };
  const path = join(dir, name);
  const bytes = readFileSync(path);
  return { ...scanRecords(bytes), path, bytes: bytes.length };
}
