import { CollectorClient, isTransportError, RejectedError } from '@daemoneye/ipc-transport';

/** Topics control clients publish on; the answer comes back on `<topic>.reply`. */
export const STATUS_TOPIC = 'control.agent.status';
export const STOP_TOPIC = 'control.agent.stop';
/** Hello kind of `status` and `stop` clients: admitted, never given tasks. */
export const CLI_KIND = 'cli';

/** Thrown with a message meant for the operator. */
export class ControlError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ControlError';
  }
}

/**
 * Sends one request to the running agent over its IPC endpoint (authenticated with its token
 * file) and returns the parsed JSON answer.
 */
export async function requestAgent(
  endpoint: string | undefined,
  topic: string,
  timeoutMs: number,
): Promise<unknown> {
  const client = new CollectorClient({
    ...(endpoint ? { endpoint } : {}),
    collectorId: `cli-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    kind: CLI_KIND,
    reconnect: false,
    connectTimeoutMs: timeoutMs,
  });
  const where = client.endpoint.path;
  try {
    await client.connect();
  } catch (error) {
    if (error instanceof RejectedError && error.rejectCode === 'ERR_AUTH_FAILED') {
      throw new ControlError(
        `the agent at ${where} refused the token in ${client.endpoint.tokenPath} (ERR_AUTH_FAILED): is it the token file of the running agent?`,
        { cause: error },
      );
    }
    if (isTransportError(error, 'ERR_TOKEN_FILE')) {
      throw new ControlError(`no agent is running at ${where} (${error.message})`, {
        cause: error,
      });
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new ControlError(`no agent is running at ${where} (${detail})`, { cause: error });
  }
  try {
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ControlError(`the agent did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      client.on('message', (message) => {
        if (message.topic !== `${topic}.reply`) return;
        clearTimeout(timer);
        try {
          resolve(JSON.parse(Buffer.from(message.payload).toString('utf8')));
        } catch (error) {
          reject(new ControlError('the agent sent a malformed answer', { cause: error }));
        }
      });
    });
    client.publish(topic, new Uint8Array([0x7b, 0x7d]));
    return await answer;
  } finally {
    await client.close('control request done');
  }
}
