import { FakeClock } from '@daemoneye/test-utils';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADD_RESULT_OUTCOMES,
  type AddResultOutcome,
  type AggregatedResult,
  AggregatorError,
  COMPLETION_REASONS,
  ResultAggregator,
  SHARE_FULL_REASONS,
  type ShareFullEvent,
  type ShareFullReason,
} from './index.js';

interface Finding {
  readonly fingerprint: string;
  /** Which collector sent this copy, to check that the first copy of each content is kept. */
  readonly origin: string;
  /** What collectors may disagree about. */
  readonly content: string;
  /** Bytes it stands for (`weigh`). */
  readonly size: number;
}

const COLLECTORS = ['c1', 'c2', 'c3', 'c4'] as const;
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'] as const;
const CONTENTS = ['A', 'B', 'C'] as const;
const SIZES = [0, 100, 300] as const;
const IDS = 6;
const MAX_PENDING = 4;
const MAX_RESULTS = 6;
const MAX_SET_BYTES = 2048;
const MAX_PENDING_BYTES = 1500;
const MAX_PER_COLLECTOR = 1024;
const OVERHEAD = 50;
const MAX_VARIANTS = 2;

type Op =
  | { kind: 'begin'; id: number; collectors: string[]; timeoutMs: number }
  | {
      kind: 'result';
      id: number;
      collector: string;
      items: { key: string; content: string; size: number }[];
      final: boolean;
    }
  | { kind: 'fail'; collector: string }
  | { kind: 'advance'; ms: number }
  | { kind: 'cancel'; id: number }
  | { kind: 'reassign'; id: number; from: string; to: string }
  /** Replays the previous `result` operation (a collector re-sending a frame). */
  | { kind: 'redeliver' };

const collector = fc.constantFrom(...COLLECTORS);
const id = fc.integer({ min: 0, max: IDS - 1 });
/** Content is mostly 'A' so that most copies agree and some conflict. */
const content = fc.oneof(
  { weight: 6, arbitrary: fc.constant('A') },
  { weight: 1, arbitrary: fc.constantFrom(...CONTENTS) },
);
/** Operations where one `result` batch in `finalOneIn` carries the final flag. */
const opArb = (finalOneIn: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('begin' as const),
        id,
        collectors: fc.uniqueArray(collector, { minLength: 1, maxLength: COLLECTORS.length }),
        timeoutMs: fc.integer({ min: 1, max: 60 }),
      }),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('result' as const),
        id,
        collector,
        items: fc.array(
          fc.record({
            key: fc.constantFrom(...KEYS),
            content,
            size: fc.constantFrom(...SIZES),
          }),
          { maxLength: 4 },
        ),
        final: fc.integer({ min: 1, max: finalOneIn }).map((n) => n === 1),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), collector }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.integer({ min: 0, max: 40 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), id }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('redeliver' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('reassign' as const),
        id,
        from: collector,
        to: collector,
      }),
    },
  );

type State = 'waiting' | 'final' | 'failed' | 'overflowed';

interface ModelSlot {
  name: string;
  state: State;
  used: number;
  usedBytes: number;
}

interface ModelVariant {
  readonly first: Finding;
  readonly sources: string[];
}

interface ModelItem {
  readonly key: string;
  readonly variants: ModelVariant[];
  readonly refused: string[];
  conflict: boolean;
  bytes: number;
}

/** The reference model of one begun set. */
interface Tracked {
  readonly correlationId: string;
  readonly deadline: number;
  readonly countShare: number;
  readonly byteShare: number;
  slots: ModelSlot[];
  readonly items: ModelItem[];
  bytes: number;
  completions: AggregatedResult<Finding>[];
}

const weightOf = (finding: Finding): number => finding.size + OVERHEAD;

/** Reasons, outcomes and share reasons seen over all runs, to prove the generator reaches each. */
const seen = new Set<string>();

function run(ops: readonly Op[]): void {
  const clock = new FakeClock();
  let failure: unknown;
  const aggregator = new ResultAggregator<Finding>({
    clock,
    timeoutMs: 30,
    maxPendingSets: MAX_PENDING,
    maxResultsPerSet: MAX_RESULTS,
    maxBytesPerSet: MAX_SET_BYTES,
    maxPendingBytes: MAX_PENDING_BYTES,
    maxPendingBytesPerCollector: MAX_PER_COLLECTOR,
    resultOverheadBytes: OVERHEAD,
    maxVariantsPerItem: MAX_VARIANTS,
    recentCompletedCapacity: 1000,
    weigh: (finding) => finding.size,
    contentKey: (finding) => finding.content,
    // A failed expectation inside a listener lands here; it is rethrown after the operation so
    // that fast-check sees it (and shrinks).
    onCallbackError: (error) => {
      failure ??= error.cause;
    },
  });
  const tracked = new Map<string, Tracked>();
  /** Charged bytes of every pending set in the model. */
  let pendingBytes = 0;
  // Which operation is allowed to cause a given completion reason right now.
  let cause: { reason: string; id?: string } | undefined;
  let addCalls = 0;
  const shareEvents: ShareFullEvent[] = [];
  aggregator.on('share-full', (event) => shareEvents.push(event));

  aggregator.on('complete', (result) => {
    const set = tracked.get(result.correlationId);
    expect(set, 'completion for a set that was never begun').toBeDefined();
    if (set === undefined) return;
    set.completions.push(result);
    seen.add(result.reason);
    expect(set.completions, 'every begun set completes exactly once').toHaveLength(1);
    pendingBytes -= set.bytes;

    // responded and missing partition expected; failed and overflowed are parts of missing.
    const names = (state: State) => set.slots.filter((s) => s.state === state).map((s) => s.name);
    expect(result.expected).toEqual(set.slots.map((s) => s.name));
    expect([...result.responded, ...result.missing].sort()).toEqual([...result.expected].sort());
    expect(result.responded).toEqual(names('final'));
    expect(result.failed).toEqual(names('failed'));
    expect(result.overflowed).toEqual(names('overflowed'));
    expect(result.complete).toBe(result.reason === 'all-received');
    expect(result.bytes).toBe(set.bytes);

    // Items equal the model: keys in first-arrival order, each content with exactly its senders.
    expect(result.results.map((item) => item.key)).toEqual(set.items.map((item) => item.key));
    result.results.forEach((item, i) => {
      const model = set.items[i];
      if (model === undefined) return;
      const [first] = model.variants;
      expect(item.result).toBe(first?.first);
      expect(item.sources, 'sources are exactly who sent the kept content').toEqual(first?.sources);
      expect(item.conflict).toBe(model.conflict);
      if (item.conflict) {
        seen.add('conflict');
        expect(item.variants.map((v) => v.sources)).toEqual(model.variants.map((v) => v.sources));
        expect(item.variants.map((v) => v.result)).toEqual(model.variants.map((v) => v.first));
        expect(item.variantsDropped).toBe(model.refused.length);
        if (model.refused.length > 0) seen.add('variant-refused');
      }
      for (const variant of item.conflict ? item.variants : [item]) {
        expect(new Set(variant.sources).size).toBe(variant.sources.length);
        for (const source of variant.sources) {
          expect(variant.result.content, `${source} never listed for content it did not send`).toBe(
            variant.result.content,
          );
        }
        expect(variant.result.origin).toBe(variant.sources[0]);
      }
    });
    expect(result.conflicts).toBe(set.items.filter((item) => item.conflict).length);

    // The reason is justified by the state or by the operation that ran.
    const waiting = names('waiting').length;
    switch (result.reason) {
      case 'all-received':
        expect(waiting).toBe(0);
        expect(names('failed')).toEqual([]);
        expect(names('final').length).toBeGreaterThan(0);
        break;
      case 'collector-failed':
        expect(waiting).toBe(0);
        expect(result.failed.length).toBeGreaterThan(0);
        break;
      case 'overflow':
        expect(set.slots.every((s) => s.state === 'overflowed')).toBe(true);
        break;
      case 'timeout':
        expect(result.completedAt).toBe(set.deadline);
        break;
      default:
        expect(cause?.reason).toBe(result.reason);
        if (cause?.id !== undefined) expect(cause.id).toBe(result.correlationId);
    }
  });

  const pending = () => [...tracked.values()].filter((set) => set.completions.length === 0);

  /** Bytes held by the slots a collector holds now, across pending sets. */
  const accountOf = (name: string): number => {
    let bytes = 0;
    for (const set of pending()) {
      for (const slot of set.slots) if (slot.name === name) bytes += slot.usedBytes;
    }
    return bytes;
  };

  /** Charges the model slot, or says which budget refused. */
  const charge = (set: Tracked, slot: ModelSlot, weight: number): ShareFullReason | undefined => {
    if (slot.used >= set.countShare) return 'count';
    if (slot.usedBytes + weight > set.byteShare) return 'bytes';
    if (accountOf(slot.name) + weight > MAX_PER_COLLECTOR) return 'collector-bytes';
    if (pendingBytes + weight > MAX_PENDING_BYTES) return 'pending-bytes';
    slot.used++;
    slot.usedBytes += weight;
    set.bytes += weight;
    pendingBytes += weight;
    return undefined;
  };

  /** Applies a batch to the model; returns the refusal that ended the slot's part, if any. */
  const apply = (set: Tracked, slot: ModelSlot, batch: Finding[]): ShareFullReason | undefined => {
    for (const finding of batch) {
      const item = set.items.find((candidate) => candidate.key === finding.fingerprint);
      const weight = weightOf(finding);
      if (item === undefined) {
        const refusal = charge(set, slot, weight);
        if (refusal !== undefined) return refusal;
        set.items.push({
          key: finding.fingerprint,
          variants: [{ first: finding, sources: [slot.name] }],
          refused: [],
          conflict: false,
          bytes: weight,
        });
        continue;
      }
      const sent =
        item.refused.includes(slot.name) ||
        item.variants.some((variant) => variant.sources.includes(slot.name));
      if (sent) continue;
      const agreeing = item.variants.find((variant) => variant.first.content === finding.content);
      if (agreeing !== undefined) {
        agreeing.sources.push(slot.name);
        continue;
      }
      item.conflict = true;
      const refusal = item.variants.length >= MAX_VARIANTS ? 'bounds' : charge(set, slot, weight);
      if (refusal === undefined) {
        item.variants.push({ first: finding, sources: [slot.name] });
        item.bytes += weight;
        continue;
      }
      item.refused.push(slot.name);
      if (refusal !== 'bounds') return refusal;
    }
    return undefined;
  };

  let previous: Op | undefined;
  for (const next of ops) {
    const step = next.kind === 'redeliver' ? previous : next;
    if (step === undefined) continue;
    if (step.kind === 'result') previous = step;
    cause = undefined;
    switch (step.kind) {
      case 'begin': {
        const correlationId = `id${step.id}`;
        const known = tracked.has(correlationId);
        const open = pending().length;
        try {
          const deadline = aggregator.begin(correlationId, step.collectors, {
            timeoutMs: step.timeoutMs,
          });
          expect(known).toBe(false);
          expect(open).toBeLessThan(MAX_PENDING);
          expect(deadline).toBe(clock.now() + step.timeoutMs);
          const n = step.collectors.length;
          tracked.set(correlationId, {
            correlationId,
            deadline,
            countShare: Math.max(1, Math.floor(MAX_RESULTS / n)),
            byteShare: Math.floor(MAX_SET_BYTES / n),
            slots: step.collectors.map((name) => ({
              name,
              state: 'waiting',
              used: 0,
              usedBytes: 0,
            })),
            items: [],
            bytes: 0,
            completions: [],
          });
        } catch (error) {
          expect(error).toBeInstanceOf(AggregatorError);
          const code = error instanceof AggregatorError ? error.code : undefined;
          expect(code).toBe(known ? 'ERR_DUPLICATE_CORRELATION' : 'ERR_TOO_MANY_PENDING_SETS');
        }
        break;
      }
      case 'result': {
        const correlationId = `id${step.id}`;
        const set = tracked.get(correlationId);
        const slot = set?.slots.find((s) => s.name === step.collector);
        const done = set !== undefined && set.completions.length > 0;
        const batch = step.items.map((item) => ({
          fingerprint: item.key,
          origin: step.collector,
          content: item.content,
          size: item.size,
        }));
        const eventsBefore = shareEvents.length;
        // Update the model first: completion is delivered from inside addResult.
        let refusal: ShareFullReason | undefined;
        const wasWaiting = slot?.state === 'waiting' && !done;
        if (set !== undefined && slot !== undefined && wasWaiting) {
          refusal = apply(set, slot, batch);
          if (refusal !== undefined) slot.state = 'overflowed';
          else if (step.final) slot.state = 'final';
        }
        const outcome = aggregator.addResult(step.collector, correlationId, batch, {
          final: step.final,
        });
        addCalls++;
        seen.add(outcome);
        if (refusal !== undefined) {
          seen.add(refusal);
          expect(outcome).toBe(
            refusal === 'count' || refusal === 'bytes' ? 'over-limit' : 'over-budget',
          );
          expect(shareEvents.slice(eventsBefore)).toEqual([
            { correlationId, collectorId: step.collector, reason: refusal },
          ]);
          break;
        }
        expect(shareEvents).toHaveLength(eventsBefore);
        let allowed: AddResultOutcome[];
        if (set === undefined) allowed = ['unknown-correlation'];
        else if (done) allowed = ['late'];
        else if (slot === undefined || slot.state === 'failed') allowed = ['unexpected-collector'];
        else if (slot.state === 'overflowed') allowed = ['over-limit'];
        else if (slot.state === 'final' && !wasWaiting) allowed = ['late', 'duplicate'];
        else allowed = ['accepted', 'duplicate'];
        expect(allowed).toContain(outcome);
        break;
      }
      case 'fail': {
        let waitingOn = 0;
        for (const set of pending()) {
          const slot = set.slots.find((s) => s.name === step.collector);
          if (slot?.state !== 'waiting') continue;
          waitingOn++;
          slot.state = 'failed';
        }
        expect(aggregator.collectorFailed(step.collector)).toBe(waitingOn);
        break;
      }
      case 'advance':
        clock.advance(step.ms);
        break;
      case 'cancel': {
        const correlationId = `id${step.id}`;
        const set = tracked.get(correlationId);
        const wasPending = set !== undefined && set.completions.length === 0;
        cause = { reason: 'cancelled', id: correlationId };
        expect(aggregator.cancel(correlationId)).toBe(wasPending);
        break;
      }
      case 'reassign': {
        const set = tracked.get(`id${step.id}`);
        const outcome = aggregator.reassign(`id${step.id}`, step.from, step.to);
        if (set === undefined || set.completions.length > 0) {
          expect(outcome).toBe('not-pending');
          break;
        }
        const from = set.slots.find((s) => s.name === step.from);
        const to = set.slots.find((s) => s.name === step.to);
        if (from === undefined) expect(outcome).toBe('unexpected-collector');
        else if (from.state === 'final') expect(outcome).toBe('already-final');
        else if (from.state === 'overflowed') expect(outcome).toBe('already-overflowed');
        else if (to !== undefined && to.state !== 'failed') {
          expect(outcome).toBe('already-expected');
        } else {
          expect(outcome).toBe('reassigned');
          seen.add('reassigned');
          // The slot keeps its usage; a failed slot of `to` goes.
          set.slots = set.slots.filter((s) => s.name !== step.to || s === from);
          from.name = step.to;
          from.state = 'waiting';
        }
        break;
      }
      case 'redeliver':
        break;
    }

    if (failure !== undefined) throw failure;
    // No set stays pending once nothing is outstanding, or after its deadline.
    for (const set of pending()) {
      expect(set.slots.some((s) => s.state === 'waiting')).toBe(true);
      expect(set.deadline).toBeGreaterThan(clock.now());
    }
    const stats = aggregator.stats();
    expect(stats.pendingSets).toBe(pending().length);
    expect(stats.pendingBytes).toBe(pendingBytes);
    expect(stats.pendingBytes).toBeLessThanOrEqual(MAX_PENDING_BYTES);
    const completed = Object.values(stats.completed).reduce((a, b) => a + b, 0);
    expect(stats.begun).toBe(stats.pendingSets + completed);
    expect(Object.values(stats.outcomes).reduce((a, b) => a + b, 0)).toBe(addCalls);
    for (const name of COLLECTORS) {
      const open = pending().filter((set) =>
        set.slots.some((s) => s.name === name && s.state === 'waiting'),
      ).length;
      const full = pending().filter((set) =>
        set.slots.some((s) => s.name === name && s.state === 'overflowed'),
      ).length;
      expect([aggregator.openShares(name), aggregator.fullShares(name)]).toEqual([open, full]);
    }
  }

  cause = { reason: 'shutdown' };
  aggregator.close();
  if (failure !== undefined) throw failure;
  for (const set of tracked.values()) expect(set.completions).toHaveLength(1);
  const stats = aggregator.stats();
  expect(stats.pendingSets).toBe(0);
  expect(stats.pendingResults).toBe(0);
  expect(stats.pendingBytes).toBe(0);
  expect(clock.timerCount).toBe(0);
}

describe('ResultAggregator properties (fixed seed)', () => {
  it('random interleavings of begin / results / final / failures / timeouts / cancel / reassign, with shares, bytes and conflicts', () => {
    fc.assert(
      // Frequent finals reach all-received; rare ones let sets live long enough to fill shares.
      fc.property(
        fc
          .constantFrom(2, 4)
          .chain((finalOneIn) =>
            fc.array(opArb(finalOneIn), { minLength: 10, maxLength: 100, size: 'max' }),
          ),
        (ops) => run(ops),
      ),
      { seed: 20_240_603, numRuns: 500 },
    );
    for (const name of [
      ...COMPLETION_REASONS,
      ...ADD_RESULT_OUTCOMES,
      ...SHARE_FULL_REASONS,
      'conflict',
      'variant-refused',
      'reassigned',
    ]) {
      expect(seen, `never reached ${name}`).toContain(name);
    }
  });
});
