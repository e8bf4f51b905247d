/**
 * The JSON shapes the agent prints (--events json), streams (GET /v1/events) and serves
 * (GET /v1/members). They are a contract for scripts and black-box tests: extend, never rename.
 */
import type { Member, MemberEvent, MemberState } from '@grapevine/core';

export interface MemberJson {
  name: string;
  addr: string;
  state: MemberState;
  incarnation: number;
  meta: Record<string, string>;
}

export interface ReadyEventJson {
  event: 'ready';
  name: string;
  addr: string;
  /** The agent's HTTP API address, when it serves one. */
  http?: string;
}

export interface StateEventJson {
  event: 'state';
  name: string;
  addr: string;
  state: MemberState;
  incarnation: number;
  /** ISO-8601 time of the change, as this node saw it. */
  at: string;
}

export interface UpdatedEventJson {
  event: 'updated';
  name: string;
  addr: string;
  incarnation: number;
  meta: Record<string, string>;
  at: string;
}

export type EventJson = ReadyEventJson | StateEventJson | UpdatedEventJson;

export function memberToJson(m: Member): MemberJson {
  return { name: m.name, addr: m.address, state: m.state, incarnation: m.incarnation, meta: { ...m.meta } };
}

/** A member event as the agent prints it: a state change, or a metadata update. */
export function memberEventToJson(ev: MemberEvent): StateEventJson | UpdatedEventJson {
  const m = ev.member;
  const at = isoTime(ev.at);
  if (ev.type === 'updated') {
    return { event: 'updated', name: m.name, addr: m.address, incarnation: m.incarnation, meta: { ...m.meta }, at };
  }
  return { event: 'state', name: m.name, addr: m.address, state: ev.type, incarnation: m.incarnation, at };
}

/** A state event for a member as it is now (what the agent prints for members it learned while starting). */
export function memberStateJson(m: Member, at: number): StateEventJson {
  return { event: 'state', name: m.name, addr: m.address, state: m.state, incarnation: m.incarnation, at: isoTime(at) };
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : new Date().toISOString();
}
