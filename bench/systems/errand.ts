/**
 * Errand, driven through its public API only (src/index.ts), with its defaults. Isolated
 * workers (the isolated scenario) run from the build (dist/index.js), as users run them:
 * from the sources every thread or process would load TypeScript through tsx, a cost no
 * installed Errand has. The build must be current (`npm run build`); the bench says so.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const HANDLER = new URL('../handlers/errand-noop.mjs', import.meta.url);
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const DIST = new URL('../../dist/index.js', import.meta.url);

/** The newest modification time of the library's sources (the dashboard's client aside). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== join(SRC, 'dashboard', 'client')) newest = Math.max(newest, newestSource(path));
    } else newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Errand's built Worker, checked to be built from the sources as they are. */
async function builtWorker(): Promise<typeof Worker> {
  let builtAt: number;
  try {
    builtAt = statSync(DIST).mtimeMs;
  } catch {
    throw new Error('isolated Errand workers run from the build: run npm run build first');
  }
  if (builtAt < newestSource(SRC)) throw new Error('dist/ is older than src/: run npm run build, so isolated workers run the code as it is');
  return ((await import(DIST.href)) as { Worker: typeof Worker }).Worker;
}

async function startWorker(options: WorkerStartOptions): Promise<WorkerHandle> {
  if (options.isolation) return startIsolatedWorker(options);
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

async function startIsolatedWorker(options: WorkerStartOptions): Promise<WorkerHandle> {
  if (options.removeCompleted) throw new Error('the isolated scenario keeps completed tasks');
  const Built = await builtWorker();
  const worker = new Built<BenchPayload, unknown>(options.queue, HANDLER, {
    connection: options.redis.url,
    concurrency: options.concurrency,
    isolation: options.isolation,
  });
  // The payload is parsed here only because the bench reads it (to count each task once).
  worker.on('active', (task) => options.onStart(task.payload));
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
