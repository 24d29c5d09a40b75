import type { LazyEnvelope, TaskAssignment } from '@daemoneye/proto';
import { type AckTracker, nackCode } from './acks.js';
import type { ClientStats, CollectorClientEvents, ReceivedMessage } from './client-events.js';
import type { SubscriptionSet } from './client-subscriptions.js';
import { TransportError } from './errors.js';
import type { TaskQueue } from './task-queue.js';

/** What handling the broker's envelopes needs from the collector client. */
export interface InboundContext {
  readonly counters: ClientStats;
  readonly acks: AckTracker;
  readonly subscriptions: SubscriptionSet;
  readonly tasks: TaskQueue;
  readonly onTask: ((task: TaskAssignment) => void) | undefined;
  /** Sends the final error result that refuses a task (throws like `sendResult`). */
  readonly refuse: (task: TaskAssignment, error: string) => void;
  readonly fire: <K extends keyof CollectorClientEvents>(
    event: K,
    ...args: CollectorClientEvents[K]
  ) => void;
  /** Runs user code; a throw is counted and reported, never breaks the session. */
  readonly guard: (what: string, callback: () => void) => void;
}

/** Handles one envelope from the broker after the Welcome; other bodies are ignored. */
export function handleInbound(message: LazyEnvelope, context: InboundContext): void {
  const body = message.body;
  const { counters } = context;
  switch (body?.$case) {
    case 'taskAssignment':
      onTask(body.value, context);
      return;
    case 'publish': {
      counters.messagesReceived++;
      const { topic, payload, sender } = body.value;
      const received: ReceivedMessage = { topic, payload, sender };
      context.fire('message', received);
      for (const handler of context.subscriptions.handlersFor(topic)) {
        context.guard(`the handler of ${topic}`, () => handler(received));
      }
      return;
    }
    case 'ack':
      context.acks.ack(body.value.messageId);
      return;
    case 'nack': {
      counters.nacksReceived++;
      const { code, message: text } = body.value;
      context.acks.nack(
        body.value.messageId,
        new TransportError(nackCode(code), `broker refused: ${code}: ${text}`),
      );
      context.fire('nack', body.value);
      return;
    }
    default:
      return;
  }
}

function onTask(task: TaskAssignment, context: InboundContext): void {
  const { counters } = context;
  counters.tasksReceived++;
  if (context.tasks.full) {
    // Refuse out loud: the agent sees a final error result and can re-route the task.
    counters.tasksRefused++;
    try {
      context.refuse(task, 'ERR_BACKPRESSURE: collector task buffer is full');
    } catch {
      // The connection is gone or full: the agent's failover handles the task.
    }
    return;
  }
  const callback = context.onTask;
  if (callback) context.guard('onTask', () => callback(task));
  context.fire('task', task);
  context.tasks.offer(task);
}
