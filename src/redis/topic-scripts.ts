/**
 * The typed boundary to the topic scripts: one function per script, owning its KEYS (the
 * topic's fence first, then its stream), the order of its ARGV, and the decoding of its
 * reply. See each script's header in scripts/ for the contract.
 */
import type { TopicKeys } from './keys.js';
import type { Arg, ScriptCall, ScriptName } from './scripts.js';
import type { StatusCode } from './status.js';

function call<T>(name: ScriptName, k: TopicKeys, args: Arg[], decode: (reply: unknown) => T): ScriptCall<T> {
  return { name, keys: [k.fence, k.stream], args, decode };
}

function ids(reply: unknown): string[] {
  return (reply as unknown[]).map(String);
}

/** The new entries' ids, in order. */
export function publish(
  k: TopicKeys,
  request: { maxLength: number; maxAgeMs: number | undefined; messages: readonly string[]; traceparent?: string },
): ScriptCall<string[]> {
  return call('topic-publish', k, [request.maxLength, request.maxAgeMs ?? '', request.traceparent ?? '', ...request.messages], ids);
}

/**
 * Creates group `group` reading from `start` ('$', '0' or the id of the last message to
 * skip), or, with `move`, moves it there. True when it was created or moved.
 */
export function join(k: TopicKeys, request: { group: string; start: string; move: boolean }): ScriptCall<boolean> {
  return call('topic-join', k, [request.group, request.start, request.move ? '1' : '0'], (reply) => Number(reply) === 1);
}

export interface ReclaimRequest {
  group: string;
  consumer: string;
  leaseMs: number;
  cursor: string;
  max: number;
  attempts: number;
  deadLettersKept: number;
  pruneIdleMs: number;
}

export interface ReclaimReply {
  cursor: string;
  taken: { id: string; message: string | null; attempt: number }[];
  /** Moved to the dead letters: their last attempt ran out of time. */
  dead: string[];
}

export function reclaim(k: TopicKeys, r: ReclaimRequest): ScriptCall<ReclaimReply> {
  const args = [r.group, r.consumer, r.leaseMs, r.cursor, r.max, r.attempts, r.deadLettersKept, r.pruneIdleMs];
  return call('topic-reclaim', k, args, (reply) => {
    const [cursor, taken, dead] = reply as [string, (string | number | null)[], unknown[]];
    const messages: ReclaimReply['taken'] = [];
    for (let i = 0; i + 2 < taken.length; i += 3) {
      messages.push({ id: String(taken[i]), message: taken[i + 1] === null ? null : String(taken[i + 1]), attempt: Number(taken[i + 2]) });
    }
    return { cursor: String(cursor), taken: messages, dead: ids(dead) };
  });
}

export interface FailRequest {
  group: string;
  consumer: string;
  id: string;
  attempts: number;
  errorJson: string;
  deadLettersKept: number;
  /** Dead-letter now, whatever attempts remain (the message cannot be decoded). */
  now: boolean;
}

/** OK (kept for another attempt), DEAD_LETTERED, or LEASE_LOST. */
export function fail(k: TopicKeys, r: FailRequest): ScriptCall<StatusCode> {
  const args = [r.group, r.consumer, r.id, r.attempts, r.errorJson, r.deadLettersKept, r.now ? '1' : '0'];
  return call('topic-fail', k, args, (reply) => Number(reply) as StatusCode);
}

/** The ids this member no longer held (acknowledgements refused). */
export function ack(k: TopicKeys, request: { group: string; consumer: string; ids: readonly string[] }): ScriptCall<string[]> {
  return call('topic-ack', k, [request.group, request.consumer, ...request.ids], ids);
}

/** The ids this member no longer holds. */
export function extend(k: TopicKeys, request: { group: string; consumer: string; ids: readonly string[] }): ScriptCall<string[]> {
  return call('topic-extend', k, [request.group, request.consumer, ...request.ids], ids);
}

/** True when the member was removed (it held nothing). */
export function leave(k: TopicKeys, request: { group: string; consumer: string }): ScriptCall<boolean> {
  return call('topic-leave', k, [request.group, request.consumer], (reply) => Number(reply) === 1);
}
