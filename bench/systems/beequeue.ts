/**
 * Bee-Queue (pinned devDependency), with its defaults except the role settings its README
 * recommends: the producer is not a worker (`isWorker: false`) and listens to job events
 * only when it awaits results; the worker does not listen to events (`getEvents: false`)
 * but sends them (default), so producers can see results.
 *
 * Results are awaited through the queue's 'job succeeded' / 'job failed' PubSub events,
 * not the Job object's own 'succeeded' event: Bee-Queue registers a Job for its events only
 * once save() has returned its id, and a fast worker's event can arrive before that, so a
 * few Job events are silently missed (seen here at 2,000 tasks/s). Queue events that come
 * before their id is known are kept (bounded) until save() returns.
 */
import BeeQueue from 'bee-queue';
import type { BenchPayload, BenchSystem, Producer, ProducerOptions, QueueCounts, WorkerHandle, WorkerStartOptions } from './types.js';
import { HANDLER_RESULT } from './types.js';
import { installedVersion } from './versions.js';

const version = installedVersion('bee-queue');

/** Finished jobs whose save() has not returned yet; more than this means they are not ours. */
const MAX_EARLY = 10_000;

type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** Matches 'job succeeded' / 'job failed' events to the jobs this producer awaits. */
class ResultEvents {
  private readonly waiting = new Map<string, (outcome: Outcome) => void>();
  private readonly early = new Map<string, Outcome>();

  constructor(queue: BeeQueue<BenchPayload>) {
    queue.on('job succeeded', (id: string, value: unknown) => this.settle(id, { ok: true, value }));
    queue.on('job failed', (id: string, error: Error) => this.settle(id, { ok: false, error }));
  }

  wait(id: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const take = (outcome: Outcome) => (outcome.ok ? resolve(outcome.value) : reject(outcome.error));
      const known = this.early.get(id);
      if (known) {
        this.early.delete(id);
        take(known);
      } else {
        this.waiting.set(id, take);
      }
    });
  }

  private settle(id: string, outcome: Outcome): void {
    const take = this.waiting.get(id);
    if (take) {
      this.waiting.delete(id);
      take(outcome);
      return;
    }
    this.early.set(id, outcome);
    if (this.early.size > MAX_EARLY) this.early.delete(this.early.keys().next().value!);
  }
}

async function openProducer({ redis, queue: name, awaitResults }: ProducerOptions): Promise<Producer> {
  const queue = new BeeQueue<BenchPayload>(name, {
    redis: { host: redis.host, port: redis.port },
    isWorker: false,
    getEvents: awaitResults,
    // Job objects need not be kept to dispatch their own events: results come from queue events.
    storeJobs: false,
  });
  queue.on('error', () => {}); // failures surface through the awaited calls
  const results = awaitResults ? new ResultEvents(queue) : undefined;
  await queue.ready();
  return {
    async enqueueOne(payload, group) {
      if (group !== undefined) throw unsupported('groups');
      await queue.createJob(payload).save();
    },
    async enqueueBulk(payloads, groupOf) {
      if (groupOf) throw unsupported('groups');
      const errors = await queue.saveAll(payloads.map((payload) => queue.createJob(payload)));
      if (errors.size > 0) throw new Error(`Bee-Queue saveAll: ${errors.size} jobs failed: ${[...errors.values()][0]?.message}`);
    },
    async enqueueAndWait(payload) {
      if (!results) throw new Error('open the Bee-Queue producer with awaitResults to wait for results');
      const job = await queue.createJob(payload).save();
      return results.wait(String(job.id));
    },
    async counts(): Promise<QueueCounts> {
      const health = await queue.checkHealth();
      return {
        waiting: health.waiting,
        active: health.active,
        completed: health.succeeded,
        failed: health.failed,
        delayed: health.delayed,
      };
    },
    close: () => queue.close(),
  };
}

function unsupported(what: 'groups' | 'a rate limiter'): Error {
  return new Error(`Bee-Queue has no ${what}: this case leaves it out`);
}

async function startWorker(options: WorkerStartOptions): Promise<WorkerHandle> {
  if (options.rateLimit) throw unsupported('a rate limiter');
  const queue = new BeeQueue<BenchPayload>(options.queue, {
    redis: { host: options.redis.host, port: options.redis.port },
    getEvents: false,
    removeOnSuccess: options.removeCompleted,
  });
  queue.on('succeeded', () => options.onCompleted());
  queue.on('error', (error) => options.onError(error));
  queue.process(options.concurrency, async (job: BeeQueue.Job<BenchPayload>) => {
    options.onStart(job.data);
    return HANDLER_RESULT;
  });
  return { close: () => queue.close(10_000) };
}

export const beequeue: BenchSystem = {
  name: 'beequeue',
  label: `Bee-Queue ${version}`,
  version,
  openProducer,
  startWorker,
};
