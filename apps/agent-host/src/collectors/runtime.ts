import {
  type CollectorClient,
  createCollectorClient,
  isTransportError,
  resolveEndpoint,
} from '@daemoneye/ipc-transport';
import type { DetectionResult, TaskAssignment } from '@daemoneye/proto';

/** Environment variables the agent sets for each collector process. */
export const ENV_ENDPOINT = 'DAEMONEYE_ENDPOINT';
export const ENV_COLLECTOR_ID = 'DAEMONEYE_COLLECTOR_ID';
/** The token file to read at each (re)connect; the contract for collectors in any language. */
export const ENV_TOKEN_FILE = 'DAEMONEYE_TOKEN_FILE';
/** How often (ms) a collector that watches something between rounds looks; 0 = never. */
export const ENV_WATCH_INTERVAL = 'DAEMONEYE_WATCH_INTERVAL_MS';

/** Error text of a task stopped at its deadline (`TaskAssignment.deadlineUnixMs`). */
export const DEADLINE_ERROR = 'deadline exceeded';

/** Results per TaskResult frame: keeps every frame far below the 1 MiB limit. */
export const RESULT_BATCH = 256;

/** What one collector kind does. */
export interface CollectorSpec {
  kind: string;
  taskKinds: string[];
  /** Runs one task and returns its results; a throw becomes a final error result. */
  handle(task: TaskAssignment): Promise<DetectionResult[]>;
  /** Tasks run at once; the rest wait in a queue reported as queueDepth. Default 2. */
  concurrency?: number;
  /** Runs once connected, with a way to publish events (e.g. procmond's lifecycle watch). */
  watch?: (publish: (topic: string, event: unknown) => void) => void;
}

/** Runs `work`, or rejects with {@link DEADLINE_ERROR} once the task's deadline has passed. */
export async function withDeadline<T>(deadlineUnixMs: bigint, work: () => Promise<T>): Promise<T> {
  if (deadlineUnixMs === 0n) return work();
  const left = Number(deadlineUnixMs) - Date.now();
  if (left <= 0) throw new Error(DEADLINE_ERROR);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(DEADLINE_ERROR)), left);
  });
  try {
    return await Promise.race([work(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** CPU use of this process as a 0..1 fraction of one core since the previous call. */
function cpuSampler(): () => number {
  let lastCpu = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  return () => {
    const cpu = process.cpuUsage(lastCpu);
    const now = process.hrtime.bigint();
    const elapsedUs = Number(now - lastAt) / 1000;
    lastCpu = process.cpuUsage();
    lastAt = now;
    if (elapsedUs <= 0) return 0;
    return Math.min(1, (cpu.user + cpu.system) / elapsedUs);
  };
}

/** Connects to the agent and serves tasks until the agent goes away or SIGTERM arrives. */
export async function runCollector(spec: CollectorSpec): Promise<void> {
  const endpoint = process.env[ENV_ENDPOINT];
  const collectorId = process.env[ENV_COLLECTOR_ID] ?? `${spec.kind}-${process.pid}`;
  const concurrency = spec.concurrency ?? 2;
  const queue: TaskAssignment[] = [];
  let active = 0;
  const cpu = cpuSampler();
  const log = (text: string): void => {
    process.stderr.write(`${collectorId}: ${text}\n`);
  };

  const tokenFile = process.env[ENV_TOKEN_FILE];
  // The agent says where its token is: no need to derive it from the endpoint (it differs on Windows).
  const where =
    endpoint && tokenFile ? { ...resolveEndpoint(endpoint), tokenPath: tokenFile } : endpoint;
  const client: CollectorClient = createCollectorClient({
    ...(where ? { endpoint: where } : {}),
    collectorId,
    kind: spec.kind,
    taskKinds: spec.taskKinds,
    maxReconnectAttempts: 20,
    metrics: () => ({
      activeTasks: active,
      queueDepth: queue.length,
      cpu: cpu(),
      memoryBytes: process.memoryUsage().rss,
    }),
    onTask: (task) => {
      queue.push(task);
      pump();
    },
  });

  /** Sends one batch; false when it could not be sent (lost connection or full queue). */
  const send = (
    task: TaskAssignment,
    results: DetectionResult[],
    final: boolean,
    error?: string,
  ): boolean => {
    try {
      client.sendResult(task, results, error === undefined ? { final } : { final, error });
      return true;
    } catch (e) {
      log(`could not send result of ${task.taskId}: ${isTransportError(e) ? e.code : String(e)}`);
      return false;
    }
  };

  const runTask = async (task: TaskAssignment): Promise<void> => {
    let results: DetectionResult[];
    try {
      results = await withDeadline(task.deadlineUnixMs, () => spec.handle(task));
    } catch (error) {
      send(task, [], true, error instanceof Error ? error.message : String(error));
      return;
    }
    if (results.length === 0) {
      send(task, [], true);
      return;
    }
    for (let i = 0; i < results.length; i += RESULT_BATCH) {
      const final = i + RESULT_BATCH >= results.length;
      if (!send(task, results.slice(i, i + RESULT_BATCH), final)) {
        // A lost batch must not end as a complete answer: say so in a final error result.
        if (!final) send(task, [], true, `${results.length - i} result(s) could not be sent`);
        return;
      }
    }
  };

  function pump(): void {
    while (active < concurrency) {
      const task = queue.shift();
      if (!task) return;
      active++;
      void runTask(task).finally(() => {
        active--;
        pump();
      });
    }
  }

  const shutdown = async (code: number): Promise<void> => {
    await client.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  // Ctrl-C reaches the whole process group: the agent owns shutdown (it sends SIGTERM after the
  // round in flight), so a collector ignores SIGINT.
  process.on('SIGINT', () => undefined);
  client.on('gave-up', () => {
    log('agent unreachable, giving up');
    void shutdown(1);
  });
  // An orphaned collector (the agent was killed) must not linger.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      log('agent process is gone, exiting');
      void shutdown(0);
    }
  }, 500).unref();

  try {
    await client.connect();
    spec.watch?.((topic, event) => {
      try {
        client.publish(topic, Buffer.from(JSON.stringify(event)));
      } catch (e) {
        log(`could not publish on ${topic}: ${isTransportError(e) ? e.code : String(e)}`);
      }
    });
  } catch (error) {
    log(
      `cannot connect: ${isTransportError(error) ? `${error.code}: ${error.message}` : String(error)}`,
    );
    process.exit(2);
  }
}

/** Builds one DetectionResult. */
export function detection(
  fingerprint: string,
  kind: string,
  subject: string,
  attributes: Record<string, string>,
): DetectionResult {
  return { fingerprint, kind, subject, attributes, collectedAtUnixMs: BigInt(Date.now()) };
}
