/**
 * The dashboard's "publish a test message" action, POST /ui/api/publish: a message typed
 * into the form, as JSON or plain text, to a live channel (an Errand JSON channel or a raw
 * one) or to a durable topic, through src/admin. Answers with what Redis said: how many
 * subscriber connections a channel message reached, or a topic message's id.
 *
 * Like every dashboard action it runs only after the plugin's CSRF and cross-site checks
 * (plugin.ts); bad input (a name, JSON that does not parse, a raw channel asked for JSON)
 * is a ValidationError before anything reaches Redis.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { GatewayContext } from '../gateway/context.js';
import { nameSchema, type ZodTypeProvider } from '../gateway/schema.js';
import { assertResource } from '../gateway/scopes.js';
import { API_BASE, type PublishAnswer } from './shared.js';

const format = z.enum(['json', 'text']);

const publishBody = z.discriminatedUnion('target', [
  z
    .object({
      target: z.literal('channel'),
      // Checked by the channel itself: Errand names, or any raw name without control characters.
      name: z.string().min(1).max(1024),
      raw: z.boolean(),
      format,
      text: z.string(),
    })
    .strict(),
  z.object({ target: z.literal('topic'), name: nameSchema('topic'), format, text: z.string() }).strict(),
]);

/** The message the form meant: the text itself, or the JSON value it spells. */
function messageOf(text: string, as: 'json' | 'text'): unknown {
  if (as === 'text') return text;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`the message is not valid JSON (${(error as Error).message}): correct it, or send it as plain text`);
  }
}

export const publishRoute =
  (ctx: GatewayContext): FastifyPluginAsync =>
  async (instance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();
    // The queue-like resource is in the body: a limited token is checked here, not by the auth hook.
    const config = { session: 'api', scope: 'enqueue', resource: 'handler' } as const;
    app.post(`${API_BASE}/publish`, { config, schema: { hide: true, body: publishBody } }, async (request): Promise<PublishAnswer> => {
      const body = request.body;
      assertResource(request.identity, body.target, body.name);
      if (body.target === 'topic') {
        const message = messageOf(body.text, body.format);
        const id = await ctx.admin.topics.topic(body.name).publish(message);
        request.log.info({ topic: body.name, id }, `dashboard: test message published on topic ${body.name}`);
        return { target: 'topic', name: body.name, id };
      }
      if (body.raw && body.format === 'json') {
        throw new ValidationError('a raw channel carries plain text: send the message as plain text, or publish on an Errand (JSON) channel');
      }
      const { receivers } = await ctx.admin.channels.publish(body.name, messageOf(body.text, body.format), { raw: body.raw });
      request.log.info({ channel: body.name, raw: body.raw, receivers }, 'dashboard: test message published on a channel');
      return { target: 'channel', name: body.name, raw: body.raw, receivers };
    });
  };
