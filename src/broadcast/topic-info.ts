/**
 * Reads about one topic for admins: its stream, its groups (members, pending, lag, and
 * how many messages were trimmed before the group read them) and its dead letters.
 *
 * Lag comes from Redis (XINFO GROUPS, Redis 7). Redis counts trimmed-but-unread messages
 * as lag; here they are reported apart as `missed`, so `lag` is what the group can still
 * read. Both are null when Redis cannot tell (after XDEL, or a group started mid-stream
 * that has not caught up yet).
 */
import type { TaskErrorInfo } from '../errors.js';
import type { TopicKeys } from '../redis/keys.js';
import type { RedisClient } from '../redis/scripts.js';

export interface TopicGroupInfo {
  name: string;
  /** Members known to Redis (a crashed member stays listed until another prunes it). */
  members: number;
  /** Messages delivered to a member and not yet acknowledged or dead-lettered. */
  pending: number;
  /** Retained messages the group has not read yet; null when Redis cannot tell. */
  lag: number | null;
  /** Messages trimmed by retention before the group read them; null when unknown. */
  missed: number | null;
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

type Flat = unknown[];

function toMap(flat: Flat): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) map[String(flat[i])] = flat[i + 1];
  return map;
}

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
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
  const trimmed = published - length;
  const groups = (groupsReply as Flat[]).map((flat): TopicGroupInfo => {
    const group = toMap(flat);
    const entriesRead = numberOrNull(group['entries-read']);
    const redisLag = numberOrNull(group['lag']);
    const missed = entriesRead === null ? null : Math.max(0, trimmed - entriesRead);
    return {
      name: String(group['name']),
      members: Number(group['consumers']),
      pending: Number(group['pending']),
      lag: redisLag === null || missed === null ? redisLag : Math.max(0, redisLag - missed),
      missed,
      lastDeliveredId: String(group['last-delivered-id']),
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
