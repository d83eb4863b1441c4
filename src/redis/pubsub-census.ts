/**
 * Who listens on classic pub/sub channels: receiver counts of a publish and the list of
 * channels with subscribers, on one Redis or across every node of a Cluster.
 *
 * In a Cluster, a classic PUBLISH reaches every node, but each node knows only its own
 * subscribers: its reply counts those, and PUBSUB answers for that node alone. So the
 * counts here ask every node (masters and replicas) and add up. Pattern subscribers on
 * other nodes cannot be counted (Redis lists no patterns), and a node may not answer: the
 * result then says it is `partial`, a lower bound.
 */
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './scripts.js';

export interface PublishReceipt {
  /** Subscriber connections the message was handed to (connections, not handlers). */
  receivers: number;
  /** A lower bound: pattern subscribers on other cluster nodes, or a node that did not answer, are not counted. */
  partial: boolean;
}

export interface ChannelCensus {
  /** Channel name → connections subscribed to exactly it, summed over nodes. */
  subscribers: Map<string, number>;
  /** Pattern subscriptions, summed over nodes. */
  patterns: number;
  /** A node did not answer: its subscribers are missing. */
  partial: boolean;
}

function nodesOf(client: Cluster): Redis[] {
  return client.nodes('all');
}

export async function publishAndCount(client: RedisClient, channel: string, message: string): Promise<PublishReceipt> {
  if (!(client instanceof Cluster)) return { receivers: await client.publish(channel, message), partial: false };
  const [first] = client.nodes('master');
  if (!first) return { receivers: await client.publish(channel, message), partial: true };
  const receivers = await first.publish(channel, message);
  const counts = await Promise.allSettled(
    nodesOf(client)
      .filter((node) => node !== first)
      .map(async (node) => {
        const [numsub, numpat] = await Promise.all([node.pubsub('NUMSUB', channel) as Promise<unknown[]>, node.pubsub('NUMPAT') as Promise<unknown>]);
        return { subscribers: Number(numsub[1] ?? 0), patterns: Number(numpat) };
      }),
  );
  let total = receivers;
  let partial = false;
  for (const count of counts) {
    if (count.status === 'rejected') partial = true;
    else {
      total += count.value.subscribers;
      if (count.value.patterns > 0) partial = true;
    }
  }
  return { receivers: total, partial };
}

/** Channels with subscribers, `NUMSUB` of each and `NUMPAT`, from every node that answers. */
export async function censusOf(client: RedisClient): Promise<ChannelCensus> {
  const nodes: (Redis | Cluster)[] = client instanceof Cluster ? nodesOf(client) : [client];
  const answers = await Promise.allSettled(
    nodes.map(async (node) => {
      const [names, patterns] = await Promise.all([node.pubsub('CHANNELS') as Promise<unknown[]>, node.pubsub('NUMPAT') as Promise<unknown>]);
      const list = names.map(String);
      const numsub = list.length ? ((await node.pubsub('NUMSUB', ...list)) as unknown[]) : [];
      return { counts: list.map((name, i) => [name, Number(numsub[i * 2 + 1] ?? 0)] as const), patterns: Number(patterns) };
    }),
  );
  const census: ChannelCensus = { subscribers: new Map(), patterns: 0, partial: false };
  for (const answer of answers) {
    if (answer.status === 'rejected') {
      // One Redis that does not answer is an error, not a partial answer.
      if (!(client instanceof Cluster)) throw answer.reason;
      census.partial = true;
      continue;
    }
    census.patterns += answer.value.patterns;
    for (const [name, count] of answer.value.counts) census.subscribers.set(name, (census.subscribers.get(name) ?? 0) + count);
  }
  return census;
}
