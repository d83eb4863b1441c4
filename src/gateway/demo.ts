/**
 * The classic two-link demo Errand grew from, served by `npm start`: the dashboard's demo
 * page (/demo, drawn by the dashboard's client) shows a producer-consumer link (enqueue a
 * random number on queue "demo") and a publish-subscribe link (publish one on the live
 * channel "task:pubsub:channel"): GET /demo/prodcons and /demo/pubsub, which redirect back
 * to /demo, so `siege -c10 -r 5 http://127.0.0.1:8080/demo/prodcons` works as is. Also the
 * demo worker and subscriber that log "Task get <n>" for what they receive.
 *
 * Publishing goes through `publishDemo` alone, a plain Redis PUBLISH that any Redis client
 * can subscribe to; it moves to Errand's live channels when those exist.
 */
import { randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ConnectionOption } from '../config.js';
import { RedisUnavailableError } from '../errors.js';
import { Worker } from '../queue/worker.js';
import { closeClient, openClient, openDedicatedClient, quit, type OwnedClient } from '../redis/connection.js';
import type { RoutePlugin } from './context.js';

export const DEMO_QUEUE = 'demo';
export const DEMO_CHANNEL = 'task:pubsub:channel';
/** The dashboard's demo page, where the two links are and where they lead back. */
export const DEMO_PAGE = '/demo';

/** Publishes the demo message: a plain PUBLISH, readable by any Redis client. */
export async function publishDemo(client: OwnedClient['client'], value: number): Promise<number> {
  return client.publish(DEMO_CHANNEL, String(value));
}

export const demoRoutes: RoutePlugin = (ctx) => async (app) => {
  let publisher: OwnedClient | undefined;
  app.addHook('onClose', async () => {
    if (publisher) await closeClient(publisher);
  });

  app.get('/demo/prodcons', async (request, reply) => {
    const value = randomInt(10);
    const task = await ctx.admin.queue<number>(DEMO_QUEUE).enqueue(value);
    request.log.info({ queue: DEMO_QUEUE, task: task.id, value }, `enqueue ${DEMO_QUEUE} -- ${value}`);
    return reply.redirect(DEMO_PAGE);
  });

  app.get('/demo/pubsub', async (request, reply) => {
    const value = randomInt(10);
    if (!publisher) {
      publisher = openClient(ctx.options.connection, { failFastMs: ctx.options.redisTimeoutMs });
      if (publisher.owned) publisher.client.on('error', () => {}); // commands report failures
    }
    try {
      await publishDemo(publisher.client, value);
    } catch (error) {
      throw new RedisUnavailableError((error as Error).message, { cause: error }); // PUBLISH fails only that way
    }
    request.log.info({ channel: DEMO_CHANNEL, value }, `publish ${DEMO_CHANNEL} -- ${value}`);
    return reply.redirect(DEMO_PAGE);
  });
};

export interface DemoConsumers {
  close(): Promise<void>;
}

/** Starts the demo worker (queue "demo") and subscriber (channel DEMO_CHANNEL); both log "Task get <n>". */
export async function startDemoConsumers(options: {
  connection?: ConnectionOption;
  prefix?: string;
  log: FastifyBaseLogger;
}): Promise<DemoConsumers> {
  const { log } = options;
  const worker = new Worker<number>(
    DEMO_QUEUE,
    async (task) => {
      log.info({ worker: 'demo', task: task.id }, `Task get ${task.payload}`);
    },
    { connection: options.connection, prefix: options.prefix, concurrency: 10 },
  );
  worker.on('error', (error) => log.warn({ err: error }, 'demo worker error (it keeps trying)'));
  const subscriber = openDedicatedClient(options.connection, { patient: true });
  subscriber.on('error', () => {}); // reconnects by itself; the worker's log reports outages
  subscriber.on('message', (_channel: string, message: string) => log.info({ subscriber: 'demo' }, `Task get ${message}`));
  await subscriber.subscribe(DEMO_CHANNEL);
  log.info(`demo worker listens on queue "${DEMO_QUEUE}", demo subscriber on channel "${DEMO_CHANNEL}"`);
  return {
    async close() {
      await Promise.all([worker.close({ timeoutMs: 5_000 }), quit(subscriber)]);
    },
  };
}
