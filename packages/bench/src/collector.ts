// A benchmark collector process. Modes:
//   transport <json>  CollectorClient: answers each TaskAssignment with its WorkSpec of results
//   ipc <json>        the same over the child_process IPC channel with JSON (the baseline)
//   raw <json>        raw Unix socket with our framing: 'E' frames are echoed, 'O' frames are
//                     answered with the hrtime of the write (one-way latency probe)
//   floor <json>      raw Unix socket: on each trigger frame writes one pre-encoded frame of
//                     `frameBytes` whose bytes 1..8 carry the hrtime of the write (raw floor at K)
// In transport mode the id and endpoint come from the coordinator's environment
// (DAEMONEYE_COLLECTOR_ID, DAEMONEYE_ENDPOINT) when they are not in the JSON config.
import { connect } from 'node:net';
import { createCollectorClient, encodeFrame, FrameDecoder } from '@daemoneye/ipc-transport';
import {
  BENCH_CPU_KIND,
  BENCH_HOLD_KIND,
  BENCH_TASK_KIND,
  CPU_SYSTEM_ATTRIBUTE,
  CPU_USER_ATTRIBUTE,
  decodeWork,
  type IpcResult,
  isIpcCpuRequest,
  isIpcTask,
  makeJsonResults,
  makeResults,
  SENT_NS_ATTRIBUTE,
} from './work.js';

interface ChildConfig {
  readonly collectorId: string;
  readonly endpoint?: string;
  readonly frameBytes?: number;
}

function parseConfig(text: string | undefined): ChildConfig {
  const parsed: unknown = JSON.parse(text ?? '{}');
  const env = process.env;
  const value: unknown =
    typeof parsed === 'object' && parsed !== null && !('collectorId' in parsed)
      ? {
          ...parsed,
          collectorId: env.DAEMONEYE_COLLECTOR_ID,
          ...(env.DAEMONEYE_ENDPOINT === undefined ? {} : { endpoint: env.DAEMONEYE_ENDPOINT }),
        }
      : parsed;
  if (
    typeof value !== 'object' ||
    value === null ||
    !('collectorId' in value) ||
    typeof value.collectorId !== 'string'
  ) {
    throw new TypeError('collector config must be {"collectorId": string, "endpoint"?: string}');
  }
  const endpoint =
    'endpoint' in value && typeof value.endpoint === 'string' ? value.endpoint : undefined;
  const frameBytes =
    'frameBytes' in value && typeof value.frameBytes === 'number' ? value.frameBytes : undefined;
  return {
    collectorId: value.collectorId,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(frameBytes === undefined ? {} : { frameBytes }),
  };
}

/** This process's CPU time so far, microseconds, as result attributes. */
function cpuAttributes(): Record<string, string> {
  const usage = process.cpuUsage();
  return { [CPU_USER_ATTRIBUTE]: String(usage.user), [CPU_SYSTEM_ATTRIBUTE]: String(usage.system) };
}

async function runTransport(config: ChildConfig): Promise<void> {
  const id = config.collectorId;
  const client = createCollectorClient({
    collectorId: id,
    kind: 'bench',
    reconnect: false,
    taskKinds: [BENCH_TASK_KIND, BENCH_CPU_KIND, BENCH_HOLD_KIND],
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    onTask: (task) => {
      if (task.taskKind === BENCH_HOLD_KIND) return; // held: never answered (failover scenario)
      if (task.taskKind === BENCH_CPU_KIND) {
        const result = {
          fingerprint: `${id}/${task.taskId}/cpu`,
          kind: 'cpu',
          subject: id,
          attributes: cpuAttributes(),
          collectedAtUnixMs: BigInt(Date.now()),
        };
        client.sendResult(task, [result], { final: true });
        return;
      }
      const { batches, batchSize } = decodeWork(task.payload);
      const collectedAt = BigInt(Date.now());
      for (let b = 0; b < batches; b++) {
        const results = makeResults(id, task.taskId, b * batchSize, batchSize, collectedAt);
        const final = b === batches - 1;
        if (final) {
          const last = results[results.length - 1];
          // Stamp as late as possible: right before the final frame is encoded and written.
          if (last) last.attributes[SENT_NS_ATTRIBUTE] = String(process.hrtime.bigint());
          else
            results.push({
              fingerprint: `${id}/${task.taskId}/stamp`,
              kind: 'stamp',
              subject: '',
              attributes: { [SENT_NS_ATTRIBUTE]: String(process.hrtime.bigint()) },
              collectedAtUnixMs: collectedAt,
            });
        }
        client.sendResult(task, results, { final });
      }
    },
  });
  await client.connect();
}

function runIpc(config: ChildConfig): void {
  const id = config.collectorId;
  const send = process.send?.bind(process);
  if (!send) throw new Error('ipc mode needs an IPC channel');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: unknown) => {
    if (isIpcCpuRequest(message)) {
      const usage = process.cpuUsage();
      send({ type: 'cpu', collectorId: id, user: usage.user, system: usage.system });
      return;
    }
    if (!isIpcTask(message)) return;
    const collectedAt = Date.now();
    for (let b = 0; b < message.batches; b++) {
      const final = b === message.batches - 1;
      const reply: IpcResult = {
        type: 'result',
        collectorId: id,
        taskId: message.taskId,
        correlationId: message.correlationId,
        results: makeJsonResults(
          id,
          message.taskId,
          b * message.batchSize,
          message.batchSize,
          collectedAt,
        ),
        final,
        sentNs: final ? String(process.hrtime.bigint()) : '',
      };
      send(reply);
    }
  });
  send({ type: 'ready', collectorId: id });
}

function runRaw(config: ChildConfig): void {
  if (config.endpoint === undefined) throw new Error('raw mode needs an endpoint');
  const socket = connect(config.endpoint);
  const decoder = new FrameDecoder();
  const stamp = Buffer.allocUnsafe(9);
  stamp[0] = 0x54; // 'T'
  socket.setNoDelay?.(true);
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) {
      if (frame[0] === 0x4f) {
        stamp.writeBigUInt64BE(process.hrtime.bigint(), 1);
        socket.write(encodeFrame(stamp));
      } else {
        socket.write(encodeFrame(frame));
      }
    }
  });
  socket.on('close', () => process.exit(0));
  socket.on('error', () => process.exit(1));
}

function runFloor(config: ChildConfig): void {
  if (config.endpoint === undefined) throw new Error('floor mode needs an endpoint');
  const frameBytes = Math.max(9, config.frameBytes ?? 9);
  // Pre-encoded: the length prefix and the body are built once; a trigger only stamps and writes.
  const frame = Buffer.alloc(4 + frameBytes, 0x61);
  frame.writeUInt32BE(frameBytes, 0);
  frame[4] = 0x46; // 'F'
  const socket = connect(config.endpoint);
  const decoder = new FrameDecoder();
  socket.setNoDelay?.(true);
  socket.on('data', (chunk: Buffer) => {
    for (const _ of decoder.push(chunk)) {
      frame.writeBigUInt64BE(process.hrtime.bigint(), 5);
      socket.write(frame);
    }
  });
  socket.on('close', () => process.exit(0));
  socket.on('error', () => process.exit(1));
}

const [mode, configText] = process.argv.slice(2);
const config = parseConfig(configText);
if (mode === 'transport') {
  runTransport(config).catch((error: unknown) => {
    process.stderr.write(`collector ${config.collectorId}: ${String(error)}\n`);
    process.exit(1);
  });
} else if (mode === 'ipc') {
  runIpc(config);
} else if (mode === 'raw') {
  runRaw(config);
} else if (mode === 'floor') {
  runFloor(config);
} else {
  process.stderr.write(`unknown collector mode ${String(mode)}\n`);
  process.exit(2);
}
