/**
 * Errand, driven through its public API only (src/index.ts), with its defaults.
 */
import { Queue, Worker } from '../../src/index.js';
import type { BenchPayload, BenchSystem, Producer, ProducerOptions, QueueCounts, WorkerHandle, WorkerStartOptions } from './types.js';
import { HANDLER_RESULT } from './types.js';
import { errandVersion } from './versions.js';

const version = errandVersion();

async function openProducer({ redis, queue: name, durability }: ProducerOptions): Promise<Producer> {
  const queue = new Queue<BenchPayload, unknown>(name, { connection: redis.url, ...(durability ? { durability } : {}) });
  await queue.counts(); // connects and loads scripts outside any timing
  return {
    async enqueueOne(payload, group) {
      await queue.enqueue(payload, group === undefined ? undefined : { group });
    },
    async enqueueBulk(payloads, groupOf) {
      await queue.enqueueMany(payloads.map((payload) => (groupOf ? { payload, group: groupOf(payload) } : { payload })));
    },
    async enqueueAndWait(payload) {
      const task = await queue.enqueue(payload);
      return task.result();
    },
    async counts(): Promise<QueueCounts> {
      const { waiting, active, completed, failed, delayed } = await queue.counts();
      return { waiting, active, completed, failed, delayed };
    },
    close: () => queue.close(),
  };
}

async function startWorker(options: WorkerStartOptions): Promise<WorkerHandle> {
  if (options.removeCompleted || options.rateLimit) {
    // Retention and the rate limit are queue settings, kept in Redis: set once, before the
    // worker starts.
    const queue = new Queue(options.queue, { connection: options.redis.url });
    await queue.configure({
      ...(options.removeCompleted ? { retention: { completed: { count: 0 } } } : {}),
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    });
    await queue.close();
  }
  const worker = new Worker<BenchPayload, unknown>(
    options.queue,
    async (task) => {
      options.onStart(task.payload);
      return HANDLER_RESULT;
    },
    {
      connection: options.redis.url,
      concurrency: options.concurrency,
      ...(options.durability ? { durability: options.durability } : {}),
    },
  );
  worker.on('completed', () => options.onCompleted());
  worker.on('error', (error) => options.onError(error));
  return { close: () => worker.close({ timeoutMs: 10_000 }) };
}

export const errand: BenchSystem = {
  name: 'errand',
  label: `Errand ${version}`,
  version,
  openProducer,
  startWorker,
};
