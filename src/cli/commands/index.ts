/**
 * The one list of `errand` commands. Each command is a module of its own that adds itself
 * to the program; a new command is one module plus one line here.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerBench } from './bench.js';
import { registerBridge } from './bridge.js';
import { registerCancel } from './cancel.js';
import { registerConfigure } from './configure.js';
import { registerDev } from './dev.js';
import { registerEnqueue } from './enqueue.js';
import { registerGroups } from './groups.js';
import { registerInspect } from './inspect.js';
import { registerLogs } from './logs.js';
import { registerPause } from './pause.js';
import { registerPublish } from './publish.js';
import { registerRemove } from './remove.js';
import { registerResume } from './resume.js';
import { registerSchedule } from './schedule.js';
import { registerRetry } from './retry.js';
import { registerServe } from './serve.js';
import { registerStats } from './stats.js';
import { registerSubscribe } from './subscribe.js';
import { registerWorker } from './worker.js';

export type RegisterCommand = (program: Command, cli: CliContext) => void;

/** In the order `errand --help` lists them. */
export const commands: readonly RegisterCommand[] = [
  registerWorker,
  registerEnqueue,
  registerStats,
  registerInspect,
  registerLogs,
  registerRetry,
  registerCancel,
  registerRemove,
  registerPause,
  registerResume,
  registerConfigure,
  registerGroups,
  registerSchedule,
  registerPublish,
  registerSubscribe,
  registerBridge,
  registerServe,
  registerDev,
  registerBench,
];
