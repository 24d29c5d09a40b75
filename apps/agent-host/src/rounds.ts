import type { AggregatedResult, Coordinator } from '@daemoneye/coordinator';
import type { Logger } from './log.js';

/** What one round did. */
export type RoundOutcome = 'ran' | 'skipped';

/**
 * The agent's round policy: an `enumerate` fan-out to every connected collector that takes it, then
 * balanced `integrity` checks (one dispatch each) of processes first seen in this round.
 */
export class RoundPolicy {
  readonly #seen = new Set<string>();

  constructor(
    private readonly coordinator: Pick<Coordinator, 'fanOut' | 'dispatch'>,
    private readonly log: Logger,
    private readonly options: { timeoutMs: number; integrityPerRound: number },
  ) {}

  async round(n: number): Promise<RoundOutcome> {
    const enumerated = await this.coordinator.fanOut({
      kind: 'enumerate',
      timeoutMs: this.options.timeoutMs,
      correlationId: `r${n}-enumerate-${Math.random().toString(16).slice(2, 10)}`,
    });
    if (enumerated.reason === 'no-collector') return 'skipped';
    this.log.info(
      `round ${n}: enumerate ${enumerated.reason}, ${enumerated.results.length} distinct results from ${enumerated.responded.length}/${enumerated.expected.length} collectors`,
    );
    await this.integrity(n, enumerated);
    return 'ran';
  }

  /**
   * Balanced integrity checks of processes first seen in this round. Targets come only from items
   * without conflict: when collectors disagree about a process, its fields may be forged.
   */
  async integrity(n: number, enumerated: AggregatedResult): Promise<void> {
    const fresh: { pid: number; executable: string }[] = [];
    const alive = new Set<string>();
    for (const item of enumerated.results) {
      const r = item.result;
      if (r.kind !== 'process') continue;
      alive.add(item.key);
      if (item.conflict) continue;
      if (this.#seen.has(item.key) || fresh.length >= this.options.integrityPerRound) continue;
      const executable = r.attributes.executable ?? '';
      const pid = Number(r.attributes.pid);
      // A process counts as seen once it is checked (or cannot be): the rest wait for later rounds.
      this.#seen.add(item.key);
      if (executable && Number.isInteger(pid)) fresh.push({ pid, executable });
    }
    // Forget processes that are gone, so the set stays as large as the process table.
    if (enumerated.complete) {
      for (const key of this.#seen) if (!alive.has(key)) this.#seen.delete(key);
    }
    await Promise.all(
      fresh.map((target, i) =>
        this.coordinator
          .dispatch({
            kind: 'integrity',
            payload: Buffer.from(JSON.stringify(target)),
            timeoutMs: this.options.timeoutMs,
            correlationId: `r${n}-integrity-${i}-${Math.random().toString(16).slice(2, 10)}`,
          })
          .catch((error: unknown) =>
            this.log.warn(
              `cannot dispatch an integrity task: ${error instanceof Error ? error.message : String(error)}`,
            ),
          ),
      ),
    );
  }
}
