/**
 * Scenario flows (issue 16): parents that wait for their children, Errand's Flows against
 * BullMQ's FlowProducer on the same Redis, both libraries run in the bench process
 * (producer and workers: a flow's parts are not the worker process's plain tasks).
 *
 * - Fan-in: one parent over `fanIn` children on another queue (default 10,000); the time
 *   from the `add` call to the parent's completion (its handler reads every child's
 *   result), Redis CPU per node over that span (INFO cpu), and memory per node: the keys'
 *   bytes (MEMORY USAGE, every element) right after an `add` with no worker, over the nodes.
 * - Chain: `chain` steps on one queue (default 1,000), each given the previous result; the
 *   time from the `add` to the last step's completion.
 * Workers run at concurrency 100. Every run checks the parent's result counts every child
 * (or the chain's every step).
 */
import { FlowProducer, QueueEvents, Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { Flows, Worker } from '../../src/index.js';
import { nowUs } from '../clock.js';
import { redisWork, type Harness } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import type { SystemName } from '../systems/types.js';
import { emptySample, requireSystem, type Sample, type Scenario, type ScenarioCase } from './types.js';

const CONCURRENCY = 100;
/** A run that has not finished by then has failed. */
const RUN_TIMEOUT_MS = 300_000;

interface FlowRun {
  /** ms from the add call to the root's completion. */
  ms: number;
  result: number;
}

/** One system's way of building and running the two shapes. */
interface FlowSystem {
  /** Adds the fan-in (without workers when `run` is false); resolves once the root completed, or at once. */
  fanIn(harness: Harness, queue: string, children: number, run: boolean): Promise<FlowRun | undefined>;
  chain(harness: Harness, queue: string, steps: number): Promise<FlowRun>;
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const errand: FlowSystem = {
  async fanIn(harness, queue, children, run) {
    const connection = harness.redis.url;
    const flows = new Flows({ connection });
    const workers = run
      ? [
          new Worker<number, number>(`${queue}-child`, async (task) => task.payload, { connection, concurrency: CONCURRENCY }),
          new Worker(`${queue}-parent`, async (_task, context) => Object.keys(await context.children()).length, { connection, concurrency: CONCURRENCY }),
        ]
      : [];
    try {
      const started = nowUs();
      const flow = await flows.add<number>({ queue: `${queue}-parent`, children: Array.from({ length: children }, (_, i) => ({ queue: `${queue}-child`, payload: i })) });
      if (!run) return undefined;
      const result = await within(flow.result(), 'the fan-in');
      return { ms: (nowUs() - started) / 1000, result };
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
      await flows.close();
    }
  },
  async chain(harness, queue, steps) {
    const connection = harness.redis.url;
    const flows = new Flows({ connection });
    const worker = new Worker<number, number>(queue, async (task) => (task.previous === undefined ? task.payload : (task.previous as number)) + 1, { connection, concurrency: CONCURRENCY });
    try {
      const started = nowUs();
      const chain = await flows.chain<number>(Array.from({ length: steps }, (_, i) => (i === 0 ? { queue, payload: 0 } : { queue })));
      const result = await within(chain.result(), 'the chain');
      return { ms: (nowUs() - started) / 1000, result };
    } finally {
      await worker.close();
      await flows.close();
    }
  },
};

/** BullMQ, with its defaults: a FlowProducer adds the tree, a parent reads getChildrenValues(). */
const bullmq: FlowSystem = {
  async fanIn(harness, queue, children, run) {
    const connection = { host: harness.redis.host, port: harness.redis.port };
    const producer = new FlowProducer({ connection });
    const parentQueue = `${queue}-parent`;
    const events = run ? new QueueEvents(parentQueue, { connection }) : undefined;
    const workers = run
      ? [
          new BullWorker(`${queue}-child`, async (job) => job.data as number, { connection: { ...connection, maxRetriesPerRequest: null }, concurrency: CONCURRENCY }),
          new BullWorker(parentQueue, async (job) => Object.keys(await job.getChildrenValues()).length, { connection: { ...connection, maxRetriesPerRequest: null }, concurrency: CONCURRENCY }),
        ]
      : [];
    try {
      await events?.waitUntilReady();
      const started = nowUs();
      const { job } = await producer.add({ name: 'parent', queueName: parentQueue, data: {}, children: Array.from({ length: children }, (_, i) => ({ name: 'child', queueName: `${queue}-child`, data: i })) });
      if (!events) return undefined;
      const result = (await within(job.waitUntilFinished(events), 'the fan-in')) as number;
      return { ms: (nowUs() - started) / 1000, result };
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
      await events?.close();
      await producer.close();
    }
  },
  async chain(harness, queue, steps) {
    const connection = { host: harness.redis.host, port: harness.redis.port };
    const producer = new FlowProducer({ connection });
    const events = new QueueEvents(queue, { connection });
    const worker = new BullWorker(
      queue,
      async (job) => {
        const previous = Object.values(await job.getChildrenValues())[0] as number | undefined;
        return (previous === undefined ? (job.data as number) : previous) + 1;
      },
      { connection: { ...connection, maxRetriesPerRequest: null }, concurrency: CONCURRENCY },
    );
    try {
      await events.waitUntilReady();
      // The last step is the root; each step's only child is the one before it.
      type Node = { name: string; queueName: string; data: number | null; children?: Node[] };
      let node: Node = { name: 'step', queueName: queue, data: 0 };
      for (let i = 1; i < steps; i++) node = { name: 'step', queueName: queue, data: null, children: [node] };
      const started = nowUs();
      const { job } = await producer.add(node);
      const result = (await within(job.waitUntilFinished(events), 'the chain')) as number;
      return { ms: (nowUs() - started) / 1000, result };
    } finally {
      await worker.close();
      await events.close();
      await producer.close();
      await new BullQueue(queue, { connection }).close();
    }
  },
};

const SYSTEMS: Partial<Record<SystemName, FlowSystem>> = { errand, bullmq };

function systemOf(name: SystemName): FlowSystem {
  const system = SYSTEMS[name];
  if (!system) throw new Error(`no flows for ${name}`);
  return system;
}

export const flowsScenario: Scenario = {
  name: 'flows',
  title: 'Flows: fan-in and chains (Errand Flows, BullMQ FlowProducer)',
  perSystem: true,
  among: ['errand', 'bullmq'],
  note: 'Bee-Queue has no flows and is left out. Both libraries run in the bench process here.',
  cases(settings: BenchSettings): ScenarioCase[] {
    const { fanIn, chain } = settings.flows;
    const n = fanIn.toLocaleString('en-US');
    const steps = chain.toLocaleString('en-US');
    return [
      {
        id: 'flows.fanin',
        label: `fan-in of ${n} children`,
        metrics: [
          { key: 'flows.fanin.ms', label: `fan-in of ${n} children: add to parent completed`, unit: 'ms', better: 'lower', digits: 0 },
          { key: 'flows.fanin.redisCpu', label: 'fan-in: Redis CPU per node', unit: 'µs', better: 'lower', digits: 1 },
          { key: 'flows.fanin.bytes', label: 'fan-in: memory per node, as added', unit: 'B', better: 'lower', digits: 0 },
        ],
        async run(harness, maybeSystem): Promise<Sample> {
          const system = systemOf(requireSystem(maybeSystem).name);
          const sample = emptySample();
          // Memory: the flow as added, nothing run.
          await harness.flush();
          await system.fanIn(harness, harness.queueName('flows-mem'), fanIn, false);
          const { bytes, keys } = await harness.keyBytes();
          await harness.flush();
          const before = await harness.redisStats();
          const run = (await system.fanIn(harness, harness.queueName('flows-fanin'), fanIn, true))!;
          const after = await harness.redisStats();
          const redis = redisWork(before, after, fanIn + 1);
          sample.metrics['flows.fanin.ms'] = run.ms;
          sample.metrics['flows.fanin.redisCpu'] = redis.cpuUsPerTask as number;
          sample.metrics['flows.fanin.bytes'] = bytes / (fanIn + 1);
          sample.detail = { children: fanIn, keysAsAdded: keys, bytesAsAdded: bytes, redis };
          if (run.result !== fanIn) sample.problems.push(`the parent saw ${run.result} children of ${fanIn}`);
          return sample;
        },
      },
      {
        id: 'flows.chain',
        label: `chain of ${steps} steps`,
        metrics: [{ key: 'flows.chain.ms', label: `chain of ${steps} steps: add to last step completed`, unit: 'ms', better: 'lower', digits: 0 }],
        async run(harness, maybeSystem): Promise<Sample> {
          const system = systemOf(requireSystem(maybeSystem).name);
          await harness.flush();
          const run = await system.chain(harness, harness.queueName('flows-chain'), chain);
          const sample = emptySample();
          sample.metrics['flows.chain.ms'] = run.ms;
          sample.detail = { steps: chain };
          if (run.result !== chain) sample.problems.push(`the chain's result is ${run.result}, expected ${chain}`);
          return sample;
        },
      },
    ];
  },
};
