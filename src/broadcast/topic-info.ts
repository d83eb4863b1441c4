/**
 * Reads about one topic for admins: its stream, its groups (members, pending, lag, and
 * how many messages were trimmed before the group read them), its dead letters, and the
 * messages published per minute.
 *
 * Lag is what the group can still read: exact when the group is caught up (0) or entirely
 * behind the retained messages (the stream's length); otherwise Redis's count (XINFO
 * GROUPS, Redis 7), at most the length, or null when Redis cannot tell. Messages trimmed
 * before a group read them are skipped for that group and are not counted anywhere: Redis
 * keeps no such tally (its own lag counter goes wrong after such a skip, hence the checks).
 */
import type { TaskErrorInfo } from '../errors.js';
import type { TopicKeys } from '../redis/keys.js';
import { readMinuteCounts } from '../redis/minute-counts.js';
import type { RedisClient } from '../redis/scripts.js';

export interface TopicGroupInfo {
  name: string;
  /** Members known to Redis (a crashed member stays listed until another prunes it). */
  members: number;
  /** Messages delivered to a member and not yet acknowledged or dead-lettered. */
  pending: number;
  /** Retained messages the group has not read yet; null when Redis cannot tell. */
  lag: number | null;
  /** Id of the last message handed to a member. */
  lastDeliveredId: string;
}

export interface TopicInfo {
  name: string;
  /** Messages retained now. */
  length: number;
  /** Messages ever published (retained or not). */
  published: number;
  firstId: string | null;
  lastId: string | null;
  deadLetters: number;
  groups: TopicGroupInfo[];
}

/** A message that failed its last allowed attempt. */
export interface DeadLetter<M = unknown> {
  id: string;
  group: string;
  /** Attempts made. */
  attempts: number;
  /** When it was dead-lettered, epoch ms (Redis clock). */
  failedAt: number;
  error: TaskErrorInfo;
  /** The message (the raw text if it was not JSON; null if trimmed before it failed). */
  message: M;
}

/** Messages published in one minute (`minute` = epoch ms / 60,000, floored; Redis clock). */
export interface PublishedPoint {
  minute: number;
  published: number;
}

type Flat = unknown[];

function toMap(flat: Flat): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) map[String(flat[i])] = flat[i + 1];
  return map;
}

/** Orders stream ids (`<ms>-<seq>`) numerically. */
function compareIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

export async function readTopicInfo(client: RedisClient, keys: TopicKeys, name: string): Promise<TopicInfo> {
  const replies = (await client.pipeline().xinfo('STREAM', keys.stream).xinfo('GROUPS', keys.stream).llen(keys.dead).exec()) ?? [];
  const [[streamError, streamReply] = [], [, groupsReply] = [], [deadError, dead] = []] = replies;
  if (deadError) throw deadError;
  if (streamError) {
    // No stream yet: nothing was published and no group joined.
    if (/no such key/i.test(streamError.message)) {
      return { name, length: 0, published: 0, firstId: null, lastId: null, deadLetters: Number(dead), groups: [] };
    }
    throw streamError;
  }
  const stream = toMap(streamReply as Flat);
  const length = Number(stream['length']);
  const published = Number(stream['entries-added']);
  const first = stream['first-entry'] as Flat | null;
  const last = stream['last-entry'] as Flat | null;
  const lastGenerated = String(stream['last-generated-id']);
  const groups = (groupsReply as Flat[]).map((flat): TopicGroupInfo => {
    const group = toMap(flat);
    const lastDeliveredId = String(group['last-delivered-id']);
    let lag: number | null;
    if (compareIds(lastDeliveredId, lastGenerated) >= 0) lag = 0;
    else if (!first || compareIds(lastDeliveredId, String(first[0])) < 0) lag = length;
    else lag = group['lag'] === null || group['lag'] === undefined ? null : Math.min(Number(group['lag']), length);
    return {
      name: String(group['name']),
      members: Number(group['consumers']),
      pending: Number(group['pending']),
      lag,
      lastDeliveredId,
    };
  });
  return {
    name,
    length,
    published,
    firstId: first ? String(first[0]) : null,
    lastId: last ? String(last[0]) : null,
    deadLetters: Number(dead),
    groups: groups.sort((a, b) => a.name.localeCompare(b.name)),
  };
}

export async function readDeadLetters(client: RedisClient, keys: TopicKeys, offset: number, limit: number): Promise<DeadLetter[]> {
  const records = await client.lrange(keys.dead, offset, offset + limit - 1);
  return records.map((record) => {
    const letter = JSON.parse(record) as DeadLetter<string | null>;
    let message: unknown = letter.message;
    if (typeof letter.message === 'string') {
      try {
        message = JSON.parse(letter.message);
      } catch {
        // Written by someone else, not as JSON: shown as the text it is.
      }
    }
    return { ...letter, message };
  });
}

/** The last `minutes` minutes' publish counts, oldest first (see topic-publish.lua). */
export function readPublishedPerMinute(client: RedisClient, keys: TopicKeys, minutes: number): Promise<PublishedPoint[]> {
  return readMinuteCounts(client, (hour) => keys.stats(hour), minutes, (minute, counts) => ({
    minute,
    published: counts.get(String(minute)) ?? 0,
  }));
}
