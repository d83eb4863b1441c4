/**
 * The registry of benchmarked systems, by name. Loaded on demand, so a worker process
 * imports only the library it runs.
 */
import type { BenchSystem, SystemName } from './types.js';

export async function loadSystem(name: SystemName): Promise<BenchSystem> {
  switch (name) {
    case 'errand':
      return (await import('./errand.js')).errand;
    case 'bullmq':
      return (await import('./bullmq.js')).bullmq;
    case 'beequeue':
      return (await import('./beequeue.js')).beequeue;
  }
}
