import type { AggregatedItem, AggregatedResult, CoordinatorMessage } from '@daemoneye/coordinator';
import { type DetectionResultView, detectionResultJson } from '@daemoneye/proto';
import { PreparedLine } from './line-encoding.js';

/** One content of a result, as written. */
export interface OutputContent {
  fingerprint: string;
  kind: string;
  subject: string;
  attributes: Record<string, string>;
  collectedAtUnixMs: string;
  sources: readonly string[];
}

/** A result item: `conflict: true` when collectors disagreed, with every variant and its sources. */
export type OutputItem = OutputContent &
  ({ conflict: false } | { conflict: true; variants: OutputContent[]; variantsDropped: number });

/** One NDJSON line for an aggregated result. */
export interface OutputLine {
  type: 'result';
  correlationId: string;
  kind: string;
  mode: 'fan-out' | 'dispatch';
  complete: boolean;
  reason: string;
  expected: readonly string[];
  responded: readonly string[];
  missing: readonly string[];
  missingReasons: Readonly<Record<string, string>>;
  resultCount: number;
  /** Items whose collectors disagreed about the content (a tamper signal). */
  conflicts: number;
  overflowed: readonly string[];
  results: OutputItem[];
  startedAt: string;
  completedAt: string;
  latencyMs: number;
}

/** One NDJSON line for a collector's event (e.g. `events.process.lifecycle`). */
export interface EventLine {
  type: 'event';
  topic: string;
  collectorId: string;
  receivedAt: string;
  /** The payload parsed as JSON when it is JSON, else its base64 text. */
  event: unknown;
}

/** An aggregated result ready for the sink: its items' JSON built straight from their bytes. */
export class ResultRecord extends PreparedLine {
  /** `completedAt - startedAt` in ms, rounded to the microsecond (as written in the line). */
  readonly latencyMs: number;

  constructor(
    head: Readonly<Record<string, unknown>>,
    items: readonly string[],
    tail: { startedAt: string; completedAt: string; latencyMs: number },
  ) {
    super(head, items, tail);
    this.latencyMs = tail.latencyMs;
  }
}

/**
 * The {@link OutputLine} of an aggregated result, as a record for the sink: the scalar fields are
 * serialised by the sink, each result's JSON comes from `detectionResultJson` (no decoded objects,
 * no bigint replacer).
 */
export function resultLine(result: AggregatedResult): ResultRecord {
  const head: Omit<OutputLine, 'results' | 'startedAt' | 'completedAt' | 'latencyMs'> = {
    type: 'result',
    correlationId: result.correlationId,
    kind: result.kind,
    mode: result.mode,
    complete: result.complete,
    reason: result.reason,
    expected: result.expected,
    responded: result.responded,
    missing: result.missing,
    missingReasons: result.missingReasons,
    resultCount: result.results.length,
    conflicts: result.conflicts,
    overflowed: result.overflowed,
  };
  const items = new Array<string>(result.results.length);
  for (let i = 0; i < items.length; i++) {
    items[i] = itemJson(result.results[i] as AggregatedItem<DetectionResultView>);
  }
  return new ResultRecord(head, items, {
    startedAt: new Date(result.startedAtUnixMs).toISOString(),
    completedAt: new Date(result.completedAtUnixMs).toISOString(),
    latencyMs: Math.round((result.completedAt - result.startedAt) * 1000) / 1000,
  });
}

/** One {@link OutputItem} as JSON text. */
function itemJson(item: AggregatedItem<DetectionResultView>): string {
  // detectionResultJson ends with `}`: the item's own fields follow the content's.
  const first = detectionResultJson(item.result, item.sources).slice(0, -1);
  if (!item.conflict) return `${first},"conflict":false}`;
  const variants = item.variants.map((v) => detectionResultJson(v.result, v.sources)).join(',');
  return `${first},"conflict":true,"variants":[${variants}],"variantsDropped":${item.variantsDropped}}`;
}

export function eventLine(message: Extract<CoordinatorMessage, { type: 'event' }>): EventLine {
  const text = Buffer.from(message.payload).toString('utf8');
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    event = Buffer.from(message.payload).toString('base64');
  }
  return {
    type: 'event',
    topic: message.topic,
    collectorId: message.collectorId,
    receivedAt: new Date().toISOString(),
    event,
  };
}
