import type { Heartbeat, LazyEnvelope, TaskResultView } from '@daemoneye/proto';
import type { Session } from './admission.js';
import type { FramedConnection } from './connection.js';
import { TransportError } from './errors.js';
import type { NackReason, Router } from './routing.js';
import { validateTopic } from './topics.js';

/** What handling a collector's envelope needs from the broker. */
export interface DispatchContext {
  readonly router: Router;
  readonly taskResult: (collectorId: string, result: TaskResultView) => void;
  readonly heartbeat: (collectorId: string, heartbeat: Heartbeat) => void;
  /** Counts one Nack sent. */
  readonly nacked: () => void;
}

function nack(
  context: DispatchContext,
  connection: FramedConnection,
  messageId: bigint,
  reason: NackReason,
): void {
  context.nacked();
  connection.trySend({
    $case: 'nack',
    value: { messageId, code: reason.code, message: reason.message },
  });
}

function reply(
  context: DispatchContext,
  connection: FramedConnection,
  messageId: bigint,
  reason: NackReason | undefined,
): void {
  if (reason) nack(context, connection, messageId, reason);
  else connection.trySend({ $case: 'ack', value: { messageId } });
}

function publish(
  context: DispatchContext,
  session: Session,
  messageId: bigint,
  topic: string,
  payload: Uint8Array,
): void {
  try {
    validateTopic(topic);
  } catch (error) {
    if (!(error instanceof TransportError)) throw error;
    nack(context, session.connection, messageId, error);
    return;
  }
  const report = context.router.route(topic, payload, session.collectorId, session, messageId);
  for (const failure of report.failed) {
    nack(context, session.connection, messageId, {
      code: failure.error.code,
      message: `delivery to ${failure.collectorId} failed: ${failure.error.message}`,
    });
  }
}

/** Handles one envelope from an admitted collector; answers what needs an Ack or a Nack. */
export function dispatch(session: Session, message: LazyEnvelope, context: DispatchContext): void {
  const { connection, collectorId } = session;
  const id = message.messageId;
  const body = message.body;
  switch (body?.$case) {
    case 'taskResult':
      context.taskResult(collectorId, body.value);
      return;
    case 'heartbeat':
      context.heartbeat(collectorId, body.value);
      return;
    case 'publish':
      publish(context, session, id, body.value.topic, body.value.payload);
      return;
    case 'subscribe':
      reply(context, connection, id, context.router.subscribe(session, body.value.pattern));
      return;
    case 'unsubscribe':
      reply(context, connection, id, context.router.unsubscribe(session, body.value.pattern));
      return;
    case 'goodbye':
      connection.close(`collector said goodbye: ${body.value.reason}`);
      return;
    case 'ack':
    case 'nack':
      return;
    default:
      nack(context, connection, id, {
        code: 'ERR_TRANSPORT_PROTOCOL',
        message:
          body === undefined
            ? 'unknown or empty envelope body'
            : `unexpected ${body.$case} from a collector`,
      });
  }
}
