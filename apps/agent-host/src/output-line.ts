import type { AggregatedResult, CoordinatorMessage } from '@daemoneye/coordinator';
import type { DetectionResult } from '@daemoneye/proto';

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

export function resultLine(result: AggregatedResult): OutputLine {
  return {
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
    results: result.results.map((item): OutputItem => {
      const first = content(item.result, item.sources);
      if (!item.conflict) return { ...first, conflict: false };
      return {
        ...first,
        conflict: true,
        variants: item.variants.map((v) => content(v.result, v.sources)),
        variantsDropped: item.variantsDropped,
      };
    }),
    startedAt: new Date(result.startedAtUnixMs).toISOString(),
    completedAt: new Date(result.completedAtUnixMs).toISOString(),
    latencyMs: Math.round((result.completedAt - result.startedAt) * 1000) / 1000,
  };
}

function content(r: DetectionResult, sources: readonly string[]): OutputContent {
  return {
    fingerprint: r.fingerprint,
    kind: r.kind,
    subject: r.subject,
    attributes: r.attributes,
    collectedAtUnixMs: r.collectedAtUnixMs.toString(),
    sources,
  };
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
