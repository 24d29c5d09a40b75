import { timingSafeEqual } from 'node:crypto';
import { type Hello, PROTOCOL_VERSION } from '@daemoneye/proto';
import { TransportError } from './errors.js';

const COLLECTOR_ID = /^[A-Za-z0-9_.:-]+$/;
/** Most task kinds, and most capabilities, one Hello may declare. */
export const MAX_HELLO_LIST = 64;
/** Shape of a code an `authorize` hook may refuse with. */
const ADMISSION_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const MAX_ADMISSION_MESSAGE = 1024;

/** Credentials of the peer process as the OS reports them; fields are absent where it does not. */
export interface PeerCredentials {
  readonly pid?: number;
  readonly uid?: number;
  readonly gid?: number;
}

/** What an `authorize` hook sees of a Hello (never the token). */
export interface HelloInfo {
  readonly collectorId: string;
  readonly kind: string;
  /** The pid the collector claims. */
  readonly pid: number;
  readonly taskKinds: readonly string[];
  readonly capabilities: readonly string[];
  readonly protocolVersion: number;
  /**
   * The connecting process's credentials from the OS. Node exposes no SO_PEERCRED / getpeereid
   * without a native addon, so this is `undefined` on every platform today.
   */
  readonly peer: PeerCredentials | undefined;
}

/** The answer of an `authorize` hook. */
export type Admission =
  | { readonly accept: true }
  | { readonly accept: false; readonly code: string; readonly message: string };

/** The admission hook: synchronous, called once per Hello that passed the built-in checks. */
export type Authorize = (hello: HelloInfo) => Admission;

/** Why a Hello is refused: the typed error (for events) and the code/message put in the Reject. */
export interface Refusal {
  readonly error: TransportError;
  /** The code sent in the Reject and counted in `refusedByCode`. */
  readonly rejectCode: string;
  /** The message sent in the Reject. */
  readonly rejectMessage: string;
}

function refusal(error: TransportError): Refusal {
  return { error, rejectCode: error.code, rejectMessage: error.message };
}

/** Constant-time token comparison; a missing or wrong-length candidate never matches. */
export function tokenMatches(token: Uint8Array | undefined, candidate: Uint8Array): boolean {
  if (!token || candidate.length !== token.length) return false;
  return timingSafeEqual(token, candidate);
}

/** The built-in checks of a Hello, in order: token, protocol version, id and lists. */
export function checkHello(
  hello: Hello,
  rules: { readonly token: Uint8Array | undefined; readonly maxCollectorIdLength: number },
): Refusal | undefined {
  // The token first: a client without it learns nothing, not even the protocol version.
  if (rules.token !== undefined && !tokenMatches(rules.token, hello.authToken)) {
    return refusal(new TransportError('ERR_AUTH_FAILED', 'authentication token mismatch'));
  }
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    return refusal(
      new TransportError(
        'ERR_PROTOCOL_VERSION',
        `protocol version ${hello.protocolVersion} is not supported (this agent speaks ${PROTOCOL_VERSION})`,
      ),
    );
  }
  const max = rules.maxCollectorIdLength;
  const id = hello.collectorId;
  if (id.length === 0 || id.length > max || !COLLECTOR_ID.test(id)) {
    return refusal(
      new TransportError(
        'ERR_INVALID_HELLO',
        `collector id must be 1..${max} characters of [A-Za-z0-9_.:-]`,
      ),
    );
  }
  if (
    hello.kind.length > max ||
    hello.taskKinds.length > MAX_HELLO_LIST ||
    hello.capabilities.length > MAX_HELLO_LIST ||
    [...hello.taskKinds, ...hello.capabilities].some((e) => e.length === 0 || e.length > max)
  ) {
    return refusal(
      new TransportError(
        'ERR_INVALID_HELLO',
        `kind, task kinds and capabilities must be at most ${max} characters (task kinds and capabilities not empty), at most ${MAX_HELLO_LIST} of each`,
      ),
    );
  }
  return undefined;
}

/** The view of a Hello an `authorize` hook gets. */
export function helloInfo(hello: Hello, peer: PeerCredentials | undefined): HelloInfo {
  return Object.freeze({
    collectorId: hello.collectorId,
    kind: hello.kind,
    pid: hello.pid,
    taskKinds: Object.freeze([...hello.taskKinds]),
    capabilities: Object.freeze([...hello.capabilities]),
    protocolVersion: hello.protocolVersion,
    peer,
  });
}

function isAdmission(value: unknown): value is Admission {
  if (typeof value !== 'object' || value === null || !('accept' in value)) return false;
  if (value.accept === true) return true;
  return (
    value.accept === false &&
    'code' in value &&
    typeof value.code === 'string' &&
    ADMISSION_CODE.test(value.code) &&
    'message' in value &&
    typeof value.message === 'string'
  );
}

/**
 * Runs the `authorize` hook. A refusal carries the hook's code; a throw or a malformed answer
 * refuses with `ERR_ADMISSION_FAILED` and is handed to `failed` (the callback policy).
 */
export function admit(
  authorize: Authorize | undefined,
  info: HelloInfo,
  failed: (cause: unknown) => void,
): Refusal | undefined {
  if (authorize === undefined) return undefined;
  let answer: unknown;
  try {
    answer = authorize(info);
  } catch (error) {
    failed(error);
    return refusal(new TransportError('ERR_ADMISSION_FAILED', 'the admission check failed'));
  }
  if (!isAdmission(answer)) {
    failed(
      new TypeError(
        'authorize must return { accept: true } or { accept: false, code: /^[A-Z][A-Z0-9_]{0,63}$/, message: string }',
      ),
    );
    return refusal(new TransportError('ERR_ADMISSION_FAILED', 'the admission check failed'));
  }
  if (answer.accept) return undefined;
  const message = answer.message.slice(0, MAX_ADMISSION_MESSAGE);
  return {
    error: new TransportError('ERR_ADMISSION_REFUSED', `${answer.code}: ${message}`),
    rejectCode: answer.code,
    rejectMessage: message,
  };
}
