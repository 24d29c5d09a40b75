import { encodeEnvelope, type TaskResult } from '../../src/index.js';
import { bytesField, concat } from './wire-writer.js';

/** Envelope{TaskResult} bytes holding the given encoded DetectionResults. */
export function encodeEnvelopeFrameOf(results: readonly Uint8Array[]): Uint8Array {
  return bytesField(17, concat(results.map((result) => bytesField(3, result))));
}

export function sampleFrame(): { bytes: Uint8Array; message: TaskResult } {
  const message: TaskResult = {
    taskId: 't-1',
    correlationId: 'c-1',
    final: true,
    error: '',
    results: [
      {
        fingerprint: 'proc/1',
        kind: 'process',
        subject: 'pid:1',
        attributes: { exe: '/bin/a', user: 'root' },
        collectedAtUnixMs: 5n,
      },
      {
        fingerprint: 'proc/2',
        kind: 'process',
        subject: 'pid:2',
        attributes: { user: 'root', exe: '/bin/a' },
        collectedAtUnixMs: 6n,
      },
      {
        fingerprint: 'proc/3',
        kind: 'process',
        subject: 'pid:2',
        attributes: { user: 'root', exe: '/bin/b' },
        collectedAtUnixMs: 6n,
      },
    ],
  };
  return {
    bytes: encodeEnvelope({ messageId: 3n, body: { $case: 'taskResult', value: message } }),
    message,
  };
}
