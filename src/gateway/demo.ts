/**
 * The classic two-link demo Errand grew from, served by `npm start`: the dashboard's demo
 * page (/demo, drawn by the dashboard's client) shows a producer-consumer link (enqueue a
 * random number on queue "demo") and a publish-subscribe link (publish one on the live
 * channel "task:pubsub:channel"): GET /demo/prodcons and /demo/pubsub, which redirect back
 * to /demo, so `siege -c10 -r 5 http://127.0.0.1:8080/demo/prodcons` works as is. Also the
 * demo worker and subscriber that log "Task get <n>" for what they receive, and the demo
 * bridge that adopts the seed's producer-consumer list (DEMO_LIST, what the classic Flask
 * producer LPUSHes to) into the demo queue, so `redis-cli LPUSH task:prodcons:queue 7` reaches
 * the demo worker too (queue.adoptList: an item is always in the list or a task).
 *
 * The channel is a raw live channel (`Broadcast` with `raw: true`): its exact name and
 * plain-string messages, as in the seed article, so `redis-cli PUBLISH task:pubsub:channel 7`
 * reaches the demo subscriber too, and `redis-cli SUBSCRIBE task:pubsub:channel` hears the
 * demo's messages.
 */
import { randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Broadcast } from '../broadcast/channel.js';
import type { ConnectionOption } from '../config.js';
import { Queue } from '../queue/queue.js';
import type { ListBridge } from '../queue/list-bridge.js';
import { Worker } from '../queue/worker.js';
import type { RoutePlugin } from './context.js';

export const DEMO_QUEUE = 'demo';
export const DEMO_CHANNEL = 'task:pubsub:channel';
/** The seed's producer-consumer list, adopted into DEMO_QUEUE. */
export const DEMO_LIST = 'task:prodcons:queue';
/** The dashboard's demo page, where the two links are and where they lead back. */
export const DEMO_PAGE = '/demo';

export const demoRoutes: RoutePlugin = (ctx) => async (app) => {

  // GET links that act, for the classic siege load test: they need the enqueue scope.
  app.get('/demo/prodcons', { config: { scope: 'enqueue' } }, async (request, reply) => {
    const value = randomInt(10);
    const task = await ctx.admin.queue<number>(DEMO_QUEUE).enqueue(value);
    request.log.info({ queue: DEMO_QUEUE, task: task.id, value }, `enqueue ${DEMO_QUEUE} -- ${value}`);
    return reply.redirect(DEMO_PAGE);
  });

  app.get('/demo/pubsub', { config: { scope: 'enqueue' } }, async (request, reply) => {
    const value = randomInt(10);
    await ctx.admin.channels.publish(DEMO_CHANNEL, String(value), { raw: true });
    request.log.info({ channel: DEMO_CHANNEL, value }, `publish ${DEMO_CHANNEL} -- ${value}`);
    return reply.redirect(DEMO_PAGE);
  });
};

export interface DemoConsumers {
  close(): Promise<void>;
}

/**
 * Starts the demo worker (queue "demo"), the bridge from DEMO_LIST into it, and the demo
 * subscriber (channel DEMO_CHANNEL); worker and subscriber log "Task get <n>".
 */
export async function startDemoConsumers(options: {
  connection?: ConnectionOption;
  prefix?: string;
  log: FastifyBaseLogger;
  unsafeAllowEviction?: boolean;
}): Promise<DemoConsumers> {
  const { log } = options;
  // Anything may be enqueued on the demo queue (the demo page sends numbers, curl anything).
  const worker = new Worker<unknown>(
    DEMO_QUEUE,
    async (task) => {
      log.info({ worker: 'demo', task: task.id }, `Task get ${typeof task.payload === 'string' ? task.payload : JSON.stringify(task.payload)}`);
    },
    { connection: options.connection, prefix: options.prefix, concurrency: 10, unsafeAllowEviction: options.unsafeAllowEviction ?? false },
  );
  worker.on('error', (error) => log.warn({ err: error }, 'demo worker error (it keeps trying)'));
  // Its connections reconnect by themselves; the worker's log reports outages.
  const bus = new Broadcast<string>({ connection: options.connection, prefix: options.prefix, raw: true });
  bus.on('error', (error) => log.warn({ err: error }, 'demo subscriber error'));
  bus.on('resubscribed', () => log.info({ subscriber: 'demo' }, 'demo subscriber is back (messages during the outage were missed)'));
  const queue = new Queue(DEMO_QUEUE, { connection: options.connection, prefix: options.prefix });
  let bridge: ListBridge | undefined;
  // Demo tasks take no time: a short close timeout keeps the whole shutdown within its deadline.
  const close = async () => {
    await Promise.all([bridge?.close(), worker.close({ timeoutMs: 2_000 }), bus.close()]);
    await queue.close();
  };
  try {
    await bus.subscribe(DEMO_CHANNEL, (message) => log.info({ subscriber: 'demo' }, `Task get ${message}`));
    bridge = await queue.adoptList(DEMO_LIST);
  } catch (error) {
    await close();
    throw error;
  }
  bridge.on('error', (error) => log.warn({ err: error }, 'demo bridge error (it keeps trying)'));
  bridge.on('adopted', (ids) => log.debug({ bridge: 'demo', tasks: ids }, `adopted ${ids.length} item(s) of ${DEMO_LIST}`));
  log.info(
    `demo worker listens on queue "${DEMO_QUEUE}" (and items LPUSHed to the list "${DEMO_LIST}" become its tasks), ` +
      `demo subscriber on channel "${DEMO_CHANNEL}"`,
  );
  return { close };
}
