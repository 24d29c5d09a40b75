import type { DetectionResultView } from './result-view.js';
import { Cursor } from './wire.js';

/**
 * The JSON text of one result, straight from its bytes: equal to
 * `JSON.stringify({ fingerprint, kind, subject, attributes, collectedAtUnixMs: String(t) })` of
 * `view.decode()`, plus `"sources": [...]` last when given (the agent's NDJSON result shape). Builds
 * no DetectionResult and needs no bigint replacer.
 */
export function detectionResultJson(
  view: DetectionResultView,
  sources?: readonly string[],
): string {
  const bytes = view.bytes;
  const cursor = new Cursor(bytes, 0, bytes.length);
  let fingerprint = '';
  let kind = '';
  let subject = '';
  const attributes: Record<string, string> = {};
  let collectedLo = 0;
  let collectedHi = 0;
  while (cursor.pos < cursor.end) {
    const tag = cursor.tag();
    switch (tag) {
      case 10:
        fingerprint = cursor.string();
        break;
      case 18:
        kind = cursor.string();
        break;
      case 26:
        subject = cursor.string();
        break;
      case 34: {
        const entryStart = cursor.lengthDelimited();
        const entryEnd = cursor.pos;
        cursor.pos = entryStart;
        cursor.end = entryEnd;
        let key = '';
        let value = '';
        while (cursor.pos < entryEnd) {
          const entryTag = cursor.tag();
          if (entryTag === 10) key = cursor.string();
          else if (entryTag === 18) value = cursor.string();
          else cursor.skip(entryTag);
        }
        cursor.end = bytes.length;
        attributes[key] = value;
        break;
      }
      case 40:
        collectedLo = cursor.varint64Lo();
        collectedHi = cursor.hi;
        break;
      default:
        cursor.skip(tag);
    }
  }
  const collectedAt =
    collectedHi === 0
      ? String(collectedLo)
      : ((BigInt(collectedHi) << 32n) | BigInt(collectedLo)).toString();
  let text = `{"fingerprint":${JSON.stringify(fingerprint)},"kind":${JSON.stringify(kind)},"subject":${JSON.stringify(subject)},"attributes":${JSON.stringify(attributes)},"collectedAtUnixMs":"${collectedAt}"`;
  if (sources !== undefined) text += `,"sources":${JSON.stringify(sources)}`;
  return `${text}}`;
}
