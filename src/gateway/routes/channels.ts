/**
 * Live channel routes: publish a message, and an event stream of a channel's (or a
 * pattern's) messages. At most once, like the library's channels: a stream gets what is
 * published while it is open, nothing from before, and nothing from a gap while Redis was
 * away (it is told by a `resubscribed` event).
 *
 * Channels are Errand JSON channels (`<prefix>:ch:<name>`, JSON messages) unless the
 * request says `?raw=1`: then the name is the Redis channel itself and messages are
 * strings, so plain `redis-cli PUBLISH` / `SUBSCRIBE` clients take part.
 */
import { z } from 'zod';
import type { ChannelMeta, ChannelSubscription } from '../../broadcast/channel.js';
import { ValidationError } from '../../errors.js';
import type { RoutePlugin } from '../context.js';
import { openEventStream, type EventStream } from '../sse.js';
import { errorSchema, type ZodTypeProvider } from '../schema.js';

/** A stream whose client reads slower than messages come is ended past this much unsent data. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

const channelParams = z
  .object({
    channel: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[^\u0000-\u001f\u007f]+$/, 'invalid channel name: control characters are not allowed')
      .meta({
        description:
          'channel name: 1-128 characters from A-Z a-z 0-9 . _ - (event streams also take patterns with * and ?); ' +
          'with raw=1 the exact Redis channel, 1-1024 characters without control characters (URL-encoded)',
      }),
  })
  .strict();

const rawFlag = z
  .enum(['0', '1', 'true', 'false'])
  .default('0')
  .transform((value) => value === '1' || value === 'true')
  .meta({ description: '1: a raw channel (exact Redis name, string messages) instead of an Errand JSON channel' });

const rawQuery = z.object({ raw: rawFlag }).strict();

const publishBody = z
  .object({ message: z.unknown().meta({ description: 'any JSON value; a string with raw=1' }) })
  .strict();

const publishedSchema = z.object({
  channel: z.string(),
  receivers: z.number().int().meta({ description: 'subscriber connections Redis handed the message to (on a Cluster, summed over its nodes)' }),
  partial: z.boolean().meta({ description: 'true when receivers is a lower bound: on a Cluster, pattern subscribers on other nodes, or a node that did not answer' }),
});

const errors = { 400: errorSchema, 401: errorSchema, 503: errorSchema };

export const channelRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const tags = ['channels'];
  const channels = ctx.admin.channels;
  channels.on('error', (error, { raw }) => app.log.warn({ err: error, raw }, 'channel message skipped'));

  app.post(
    '/channels/:channel/messages',
    {
      config: { scope: 'enqueue' },
      schema: {
        summary: 'Publish a message on a live channel',
        description: 'Delivered to whoever is subscribed now, at most once; nothing is stored.',
        tags,
        params: channelParams,
        querystring: rawQuery,
        body: publishBody,
        response: { 200: publishedSchema, ...errors, 413: errorSchema },
      },
    },
    async (request) => {
      const { channel } = request.params;
      const { message } = request.body;
      const { raw } = request.query;
      if (raw && typeof message !== 'string') {
        throw new ValidationError(
          `with raw=1 the message must be a string, got ${message === null ? 'null' : typeof message}: raw channels carry plain strings (drop raw=1 for an Errand JSON channel)`,
        );
      }
      const { receivers, partial } = await channels.publish(channel, message, { raw });
      return { channel, receivers, partial };
    },
  );

  app.get(
    '/channels/:channel/events',
    {
      config: { scope: 'read' },
      schema: {
        summary: "Server-Sent Events of a live channel's messages",
        description:
          'Opens with a `subscribed` event once Redis confirmed the subscription; then a `message` event ' +
          '(`{ channel, message, pattern? }`) per message published from then on. A name with * or ? is a pattern. ' +
          'At most once: after a Redis outage a `resubscribed` event says messages in the gap were missed.',
        tags,
        params: channelParams,
        querystring: rawQuery,
        produces: 'text/event-stream',
        response: { 200: z.string(), ...errors },
      },
    },
    async (request, reply) => {
      const { channel } = request.params;
      const { raw } = request.query;
      let stream: EventStream | undefined;
      const early: [unknown, ChannelMeta][] = []; // arrived with the confirmation, before the stream opened
      const forward = (message: unknown, meta: ChannelMeta) => {
        if (!stream) return void early.push([message, meta]);
        if (stream.bufferedBytes > MAX_BUFFERED_BYTES) {
          request.log.warn({ channel }, 'channel event stream ended: its client reads slower than messages arrive');
          return stream.end();
        }
        stream.send('message', { channel: meta.channel, message, ...(meta.pattern === undefined ? {} : { pattern: meta.pattern }) });
      };
      // Errors before the stream opens (bad name, Redis away) are answered as JSON. A channel
      // this gateway already listens to needs no word with Redis: ask it first, failing fast.
      await ctx.admin.ping();
      const subscription: ChannelSubscription = await channels.subscribe(channel, forward, { raw });
      const onResubscribed = (kind: { raw: boolean }) => {
        if (kind.raw === raw) stream?.send('resubscribed', { channel });
      };
      stream = openEventStream(reply, { heartbeatMs: ctx.options.heartbeatMs, closing: ctx.closing, limits: ctx.limits });
      const ended = new Promise<void>((resolve) => stream!.signal.addEventListener('abort', () => resolve(), { once: true }));
      channels.on('resubscribed', onResubscribed);
      try {
        stream.send('subscribed', { channel, raw });
        for (const [message, meta] of early.splice(0)) forward(message, meta);
        await ended;
      } finally {
        channels.off('resubscribed', onResubscribed);
        stream.end();
        await subscription.close().catch((error: unknown) => request.log.debug({ err: error }, 'channel unsubscribe failed'));
      }
    },
  );
};
