/**
 * A machine reference, not a contest: redis-benchmark against the same private server
 * running a 3-write Lua script (EVAL with three SETs), unpipelined and pipelined 16 deep,
 * 50 clients. It shows what this Redis on this machine can do at best while the bench
 * runs, which puts the systems' figures (and the machine's load) in proportion.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Harness } from '../harness.js';
import type { BenchSettings } from '../settings.js';
import { emptySample, type Scenario } from './types.js';

const run = promisify(execFile);
const SCRIPT = "redis.call('SET',KEYS[1],'1') redis.call('SET',KEYS[2],'1') redis.call('SET',KEYS[3],'1')";

async function redisBenchmark(harness: Harness, requests: number, pipeline: number): Promise<number> {
  const { host, port } = harness.redis;
  const args = ['-h', host, '-p', String(port), '-n', String(requests), '-c', '50', '-P', String(pipeline), '--csv'];
  const { stdout } = await run('redis-benchmark', [...args, 'EVAL', SCRIPT, '3', 'ref:a', 'ref:b', 'ref:c'], { timeout: 120_000 });
  // CSV: "test","rps",... where the test name (our script) itself holds commas.
  const last = stdout.trim().split('\n').pop() ?? '';
  const rps = Number(/^"(?:[^"]|"")*","([\d.]+)"/.exec(last)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`could not read redis-benchmark's output: ${stdout.slice(0, 200)}`);
  return rps;
}

export const referenceScenario: Scenario = {
  name: 'reference',
  title: 'Machine reference: redis-benchmark on the same server',
  perSystem: false,
  cases(settings: BenchSettings) {
    return [
      {
        id: 'reference',
        label: 'redis-benchmark, 3-write Lua script',
        metrics: [
          { key: 'reference.eval', label: 'redis-benchmark EVAL 3 SETs, unpipelined', unit: 'calls/s', better: 'higher', digits: 0 },
          { key: 'reference.eval.p16', label: 'redis-benchmark EVAL 3 SETs, pipeline 16', unit: 'calls/s', better: 'higher', digits: 0 },
        ],
        async run(harness) {
          const sample = emptySample();
          sample.metrics['reference.eval'] = await redisBenchmark(harness, settings.referenceRequests, 1);
          sample.metrics['reference.eval.p16'] = await redisBenchmark(harness, settings.referenceRequests * 2, 16);
          return sample;
        },
      },
    ];
  },
};
