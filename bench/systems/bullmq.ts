/**
 * BullMQ (pinned devDependency), with its defaults: jobs added by a Queue, results seen
 * through QueueEvents (job.waitUntilFinished), completed jobs kept unless removed.
 */
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { BenchPayload, BenchSystem, Producer, ProducerOptions, QueueCounts, WorkerHandle, WorkerStartOptions } from './types.js';
import { HANDLER_RESULT } from './types.js';
import { installedVersion } from './versions.js';

const version = installedVersion('bullmq');
const JOB_NAME = 'task';

function noGroups(): Error {
  return new Error('BullMQ has no groups outside its paid Pro edition: this case measures Errand only');
}

async function openProducer({ redis, queue: name, awaitResults }: ProducerOptions): Promise<Producer> {
  const connection = { host: redis.host, port: redis.port };
  const queue = new Queue<BenchPayload, unknown, string>(name, { connection });
  queue.on('error', () => {}); // failures surface through the awaited calls
  await queue.waitUntilReady();
  let events: QueueEvents | undefined;
  if (awaitResults) {
    // job.waitUntilFinished adds listeners per waiting job (on the Queue and QueueEvents):
    // thousands at once are expected here, not a leak.
    queue.setMaxListeners(0);
    events = new QueueEvents(name, { connection });
    events.setMaxListeners(0);
    events.on('error', () => {});
    await events.waitUntilReady();
  }
  return {
    async enqueueOne(payload, group) {
      if (group !== undefined) throw noGroups();
      await queue.add(JOB_NAME, payload);
    },
    async enqueueBulk(payloads, groupOf) {
      if (groupOf) throw noGroups();
      await queue.addBulk(payloads.map((data) => ({ name: JOB_NAME, data })));
    },
    async enqueueAndWait(payload) {
      if (!events) throw new Error('open the BullMQ producer with awaitResults to wait for results');
      const job = await queue.add(JOB_NAME, payload);
      return job.waitUntilFinished(events);
    },
    async counts(): Promise<QueueCounts> {
      const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
      return {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
        delayed: c.delayed ?? 0,
      };
    },
    async close() {
      await events?.close();
      await queue.close();
    },
  };
}

/** The sandboxed processor (isolated scenario): plain JavaScript, a no-op like the others. */
const PROCESSOR = fileURLToPath(new URL('../handlers/bullmq-noop.mjs', import.meta.url));

async function startWorker(options: WorkerStartOptions): Promise<WorkerHandle> {
  const { isolation } = options;
  const worker = new Worker<BenchPayload, unknown, string>(
    options.queue,
    isolation
      ? PROCESSOR
      : async (job) => {
          options.onStart(job.data);
          return HANDLER_RESULT;
        },
    {
      connection: { host: options.redis.host, port: options.redis.port },
      concurrency: options.concurrency,
      // Worker-level, like the other two systems' settings; count 0 removes at completion.
      ...(options.removeCompleted ? { removeOnComplete: { count: 0 } } : {}),
      // Sandboxed: worker threads or child processes (BullMQ's default), started without
      // this process's flags (its tsx loader), as Errand's are.
      ...(isolation === 'thread' ? { useWorkerThreads: true, workerThreadsOptions: { execArgv: [] } } : {}),
      ...(isolation === 'process' ? { workerForkOptions: { execArgv: [] } } : {}),
      // BullMQ's limiter is global to the queue (one counter in Redis, whatever the worker).
      ...(options.rateLimit ? { limiter: { max: options.rateLimit.max, duration: options.rateLimit.perMs } } : {}),
    },
  );
  if (isolation) worker.on('active', (job) => options.onStart(job.data));
  worker.on('completed', () => options.onCompleted());
  worker.on('error', (error) => options.onError(error));
  return { close: () => worker.close() };
}

export const bullmq: BenchSystem = {
  name: 'bullmq',
  label: `BullMQ ${version}`,
  version,
  openProducer,
  startWorker,
};
