/** What every node knows about every member, and the events a change of it raises. */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** Wire codes for member states (push-pull). */
export const STATE_CODE: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };
export const STATE_FROM_CODE: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

export type Meta = Readonly<Record<string, string>>;

export interface Member {
  /** Stable node name, unique in the cluster. */
  readonly name: string;
  /** Address peers reach it at ("host:port"). */
  readonly address: string;
  readonly state: MemberState;
  /** Raised only by the node itself, to refute suspicion or announce new metadata. */
  readonly incarnation: number;
  /**
   * Per-process instance id: start time (ms) × 4096 + 12 random bits. A restarted node has a
   * larger one, so peers retire its old self at once.
   */
  readonly instance: number;
  readonly meta: Meta;
  /** Hybrid-logical-clock time of the last metadata change. */
  readonly metaVersion: number;
  /** Local clock time of the last state change, as seen by this node. */
  readonly stateChangedAt: number;
  /** The wire protocol version the member speaks. */
  readonly protocolVersion: number;
  /** The member's application version (the appVersion option; '' when unset). */
  readonly appVersion: string;
}

export type MemberEventType = 'alive' | 'suspect' | 'dead' | 'left' | 'updated';

export interface MemberEvent {
  readonly type: MemberEventType;
  readonly member: Member;
  /** The state before this change; undefined for a member seen for the first time. */
  readonly previous?: MemberState;
  /** Local clock time of the event (ms since epoch). */
  readonly at: number;
}

export interface MemberCounts {
  alive: number;
  suspect: number;
  dead: number;
  left: number;
}
