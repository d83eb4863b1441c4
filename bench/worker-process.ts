/**
 * A worker process: runs one system's worker on the parent's command, so the worker's CPU
 * time never mixes with the producer's. Spawned once per system by bench/worker-pool.ts
 * (argument: the system name) and reused across runs, one worker at a time.
 *
 * For processing runs it times from just before the worker is constructed (connecting is
 * part of the cost, equal for all) to the `expect`-th completion event of the library, and
 * reports it at once. Handler starts are recorded against the payload's enqueue timestamp,
 * and, when asked, by their time (the flow scenario reads rates and windows from them).
 */
import { nowUs } from './clock.js';
import { loadSystem } from './systems/index.js';
import { SYSTEM_NAMES, type BenchPayload, type SystemName, type WorkerHandle } from './systems/types.js';
import type { ChildMessage, ParentMessage, StartCommand, WorkerReport } from './worker-protocol.js';

const MAX_ERRORS = 5;

const name = process.argv[2] as SystemName;
if (!SYSTEM_NAMES.includes(name) || !process.send) {
  console.error(`usage: forked by the bench with one of ${SYSTEM_NAMES.join(', ')}`);
  process.exit(2);
}
const system = await loadSystem(name);

function send(message: ChildMessage): void {
  process.send?.(message);
}

interface Run {
  handle: WorkerHandle | undefined;
  report: WorkerReport;
  seen: Set<number>;
  cpuAtStart: NodeJS.CpuUsage;
}

let run: Run | undefined;

async function start(command: StartCommand): Promise<void> {
  if (run) throw new Error('a worker is already running in this process: stop it first');
  const report: WorkerReport = { starts: 0, distinct: 0, completed: 0, startLatenciesUs: [], startTimesUs: [], lastRecordedStartUs: 0, errors: [], cpuUs: 0 };
  const current: Run = { handle: undefined, report, seen: new Set(), cpuAtStart: process.cpuUsage() };
  run = current;
  const startedUs = nowUs();
  try {
    current.handle = await startWorker(command, current, startedUs);
  } catch (error) {
    run = undefined;
    throw error;
  }
  send({ type: 'started' });
}

function startWorker(command: StartCommand, current: Run, startedUs: number): Promise<WorkerHandle> {
  const { report } = current;
  let firstStartUs = startedUs;
  return system.startWorker({
    redis: command.redis,
    queue: command.queue,
    concurrency: command.concurrency,
    removeCompleted: command.removeCompleted,
    ...(command.durability ? { durability: command.durability } : {}),
    ...(command.isolation ? { isolation: command.isolation } : {}),
    ...(command.rateLimit ? { rateLimit: command.rateLimit } : {}),
    onStart(payload: BenchPayload) {
      const startUs = nowUs();
      if (report.starts++ === 0) firstStartUs = startUs;
      current.seen.add(payload.i);
      if (command.recordStarts && !payload.w) {
        report.startLatenciesUs.push(startUs - payload.t);
        report.lastRecordedStartUs = startUs;
      }
      if (command.recordStartTimes) report.startTimesUs.push(startUs);
    },
    onCompleted() {
      report.completed++;
      if (report.completed === command.expect) {
        send({ type: 'done', elapsedMs: (nowUs() - startedUs) / 1000, firstStartMs: (firstStartUs - startedUs) / 1000, firstStartUs });
      }
    },
    onError(error) {
      if (report.errors.length < MAX_ERRORS) report.errors.push(error.message);
    },
  });
}

async function stop(): Promise<void> {
  const current = run;
  if (!current) throw new Error('no worker is running in this process');
  try {
    await current.handle?.close();
  } finally {
    run = undefined;
  }
  current.report.distinct = current.seen.size;
  const cpu = process.cpuUsage(current.cpuAtStart);
  current.report.cpuUs = cpu.user + cpu.system;
  send({ type: 'stopped', report: current.report });
}

process.on('message', (message: ParentMessage) => {
  const action = message.type === 'start' ? start(message) : message.type === 'stop' ? stop() : undefined;
  if (message.type === 'exit') {
    process.disconnect();
    return;
  }
  action?.catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  });
});

// The parent going away (crash, Ctrl-C) ends this process too.
process.on('disconnect', () => {
  const closing = run?.handle?.close().catch(() => {});
  void Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]).then(() => process.exit(0));
});

send({ type: 'ready', system: name });
