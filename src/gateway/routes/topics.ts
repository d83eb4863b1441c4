/**
 * Durable topic routes: publish (one message or a batch), read topics with their groups
 * (lag, pending) and dead letters, and an event stream that makes its client a member of
 * a subscriber group.
 *
 * The stream's delivery promise: each message goes to one member of the group, and is
 * acknowledged once its event was handed to the operating system's socket for the client.
 * A message whose event could not be written (the client had gone) is not acknowledged: it
 * is delivered again, to whichever member of the group reads next, once its lease
 * (`leaseMs`) ran out, as is every message a member held when its gateway died. Each such
 * delivery counts as an attempt; after the topic's attempts (3) it is dead-lettered. See
 * docs/http-api.md for what that means for a client.
 */
import { z } from 'zod';
import { isStreamId, type TopicStart } from '../../broadcast/options.js';
import type { TopicSubscription } from '../../broadcast/topic-subscription.js';
import { RedisUnavailableError } from '../../errors.js';
import type { RoutePlugin } from '../context.js';
import { openEventStream, type EventStream } from '../sse.js';
import { errorSchema, nameSchema, type ZodTypeProvider } from '../schema.js';

const topicParams = z.object({ topic: nameSchema('topic') }).strict();

const publishBody = z.object({ message: z.unknown().meta({ description: 'any JSON value' }) }).strict();
const batchBody = z.object({ messages: z.array(z.unknown()).min(1).max(10_000).meta({ description: '1-10,000 JSON values, kept in order' }) }).strict();

const groupInfoSchema = z.object({
  name: z.string(),
  members: z.number().int().meta({ description: 'members known to Redis (a crashed one stays listed until pruned)' }),
  pending: z.number().int().meta({ description: 'messages handed to a member and not yet acknowledged or dead-lettered' }),
  lag: z.number().int().nullable().meta({ description: 'retained messages the group has not read yet; null when Redis cannot tell' }),
  lastDeliveredId: z.string(),
});

export const topicInfoSchema = z
  .object({
    name: z.string(),
    length: z.number().int().meta({ description: 'messages retained now' }),
    published: z.number().int().meta({ description: 'messages ever published' }),
    firstId: z.string().nullable(),
    lastId: z.string().nullable(),
    deadLetters: z.number().int(),
    groups: z.array(groupInfoSchema),
  })
  .meta({ id: 'TopicInfo' });

const deadLetterSchema = z.object({
  id: z.string(),
  group: z.string(),
  attempts: z.number().int(),
  failedAt: z.number().meta({ description: 'epoch ms (Redis clock)' }),
  error: z.object({ name: z.string(), message: z.string(), stack: z.string().optional() }),
  message: z.unknown(),
});

const pageQuery = z
  .object({
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(50),
  })
  .strict();

const fromParam = z
  .union([
    z.literal('new'),
    z.literal('earliest'),
    z.string().refine(isStreamId, 'a message id like 1700000000000-0 (or epoch ms), each part at most 2^64 - 1'),
    z.iso.datetime({ offset: true }),
  ], { error: 'use new, earliest, a message id like 1700000000000-0, or an ISO 8601 date-time like 2030-01-01T09:00:00Z' })
  .default('new')
  .transform((from): TopicStart => (from === 'new' || from === 'earliest' || isStreamId(from) ? from : new Date(from)))
  .meta({
    description:
      'where a new group starts: new (default), earliest, a message id (inclusive; epoch ms works as one) or an ISO 8601 date-time. ' +
      'An existing group goes on where it was.',
  });

const eventsQuery = z
  .object({
    group: nameSchema('group'),
    from: fromParam,
    leaseMs: z.coerce
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .default(30_000)
      .meta({ description: 'how long a message may stay unacknowledged before another member gets it (default 30000)' }),
    prefetch: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .meta({ description: 'messages in flight to this client at once (default 10)' }),
  })
  .strict();

const errors = { 400: errorSchema, 401: errorSchema, 503: errorSchema };

/** Resolves once the member joined its group; rejects on its first error or after `timeoutMs`. */
async function joined(subscription: TopicSubscription, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onError: ((error: Error) => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(`the group was not joined within ${timeoutMs} ms`)), timeoutMs);
      onError = reject;
      subscription.once('error', onError);
      subscription.ready().then(resolve, reject);
    });
  } finally {
    clearTimeout(timer);
    if (onError) subscription.off('error', onError);
  }
}

export const topicRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const tags = ['topics'];
  const topics = ctx.admin.topics;

  app.post(
    '/topics/:topic/messages',
    {
      config: { scope: 'enqueue' },
      schema: {
        summary: 'Publish a message on a durable topic',
        description: 'Stored in the topic (within its retention) for every subscriber group; answers with its id.',
        tags,
        params: topicParams,
        body: publishBody,
        response: { 201: z.object({ topic: z.string(), id: z.string() }), ...errors, 413: errorSchema },
      },
    },
    async (request, reply) => {
      const { topic } = request.params;
      const id = await topics.topic(topic).publish(request.body.message);
      return reply.status(201).send({ topic, id });
    },
  );

  app.post(
    '/topics/:topic/messages/batch',
    {
      config: { scope: 'enqueue' },
      schema: {
        summary: 'Publish many messages in order',
        description: 'Appended in chunks of 1,000, each chunk atomically.',
        tags,
        params: topicParams,
        body: batchBody,
        response: { 201: z.object({ topic: z.string(), ids: z.array(z.string()) }), ...errors, 413: errorSchema },
      },
    },
    async (request, reply) => {
      const { topic } = request.params;
      const ids = await topics.topic(topic).publishMany(request.body.messages);
      return reply.status(201).send({ topic, ids });
    },
  );

  app.get(
    '/topics',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Every topic with its groups, lag and pending counts',
        tags,
        response: { 200: z.object({ topics: z.array(topicInfoSchema) }), ...errors },
      },
    },
    async () => ({ topics: await topics.overview() }),
  );

  app.get(
    '/topics/:topic',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A topic's length, groups (members, pending, lag) and dead-letter count",
        description: 'A topic never used has length 0 and no groups.',
        tags,
        params: topicParams,
        response: { 200: topicInfoSchema, ...errors },
      },
    },
    async (request) => topics.topic(request.params.topic).info(),
  );

  app.get(
    '/topics/:topic/dead-letters',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Messages that failed their last attempt, newest first',
        tags,
        params: topicParams,
        querystring: pageQuery,
        response: { 200: z.object({ deadLetters: z.array(deadLetterSchema) }), ...errors },
      },
    },
    async (request) => ({ deadLetters: await topics.topic(request.params.topic).deadLetters(request.query) }),
  );

  app.get(
    '/topics/:topic/events',
    {
      config: { scope: 'read' },
      schema: {
        summary: "Server-Sent Events of a topic's messages, as a member of a subscriber group",
        description:
          'Opens with a `subscribed` event once the group exists and this stream is a member; then a `message` event ' +
          '(`{ id, topic, group, attempt, publishedAt, message }`, SSE id = message id) per message the group hands it. ' +
          'Each message goes to one member of the group and is acknowledged once written to this connection; one not ' +
          'written (client gone) is delivered again after leaseMs, to any member.',
        tags,
        params: topicParams,
        querystring: eventsQuery,
        produces: 'text/event-stream',
        response: { 200: z.string(), ...errors },
      },
    },
    async (request, reply) => {
      const { topic } = request.params;
      const { group, from, leaseMs, prefetch } = request.query;
      // A member waits for Redis to come back; a request must not: ask first, failing fast.
      await ctx.admin.ping();
      // Each member holds a Redis connection for its blocking reads: their number is bounded.
      const release = ctx.limits.takeTopicSlot();
      let stream: EventStream | undefined;
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      let subscription: TopicSubscription;
      try {
        subscription = topics.subscribe(
          topic,
          group,
          async (message, meta) => {
            await opened;
            const { signal: _signal, ...about } = meta;
            await stream!.deliver('message', { ...about, message }, meta.id);
          },
          { from, leaseMs, concurrency: prefetch },
        );
      } catch (error) {
        release();
        throw error;
      }
      subscription.once('closed', release);
      try {
        await joined(subscription, ctx.options.redisTimeoutMs);
      } catch (error) {
        await subscription.close({ timeoutMs: 0 });
        release();
        throw error;
      }
      const log = request.log.child({ topic, group, member: subscription.consumer });
      subscription.on('error', (error) => log.warn({ err: error }, 'topic member error (it keeps trying)'));
      subscription.on('failed', (meta, error) => log.debug({ id: meta.id, err: error }, 'message not written: delivered again after its lease'));
      subscription.on('exhausted', (ids) => log.warn({ ids }, 'messages dead-lettered after their last attempt'));

      stream = openEventStream(reply, { heartbeatMs: ctx.options.heartbeatMs, closing: ctx.closing, limits: ctx.limits });
      const ended = new Promise<void>((resolve) => stream!.signal.addEventListener('abort', () => resolve(), { once: true }));
      try {
        stream.send('subscribed', { topic, group, member: subscription.consumer });
        open();
        await ended;
      } finally {
        stream.end();
        open(); // handlers waiting for the stream find it ended and give their messages back
        // Handlers end at once (their writes fail), so this is quick unless Redis is away or
        // slow; the bound is generous so a loaded server still records the failed writes
        // (else they wait for the lease to run out before another member gets them).
        await subscription.close({ timeoutMs: Math.max(ctx.options.redisTimeoutMs, 10_000) });
      }
    },
  );
};
