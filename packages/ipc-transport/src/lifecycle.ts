/** Payload of every `state-change` event: from, to, and why. */
export interface StateChange<S extends string> {
  readonly from: S;
  readonly to: S;
  readonly reason: string;
}
