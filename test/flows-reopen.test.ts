/**
 * Re-opening a 'fail' parent when the child that failed it is retried (review 16): the
 * siblings its failure cancelled are retried even when the retried child's next notice
 * replaced its retry notice before it was applied, or the caller died before retrying them;
 * and the parent is not re-opened while another child holds a failure of its own (the 'fail'
 * policy holds: the parent stays failed, naming that child).
 */
import { describe, expect, it, vi } from 'vitest';
import { Flows, type FlowNodeRef } from '../src/index.js';
import { QueueKeys, TASK_FIELDS } from '../src/redis/keys.js';
import { runScript } from '../src/redis/scripts.js';
import * as flowScripts from '../src/redis/flow-scripts.js';
import { useRedis, useScope, type TestScope } from './support/fixtures.js';

const redis = useRedis();
const scope = useScope(redis);
const flows = (s: TestScope) => s.add(new Flows({ connection: redis.url, prefix: s.prefix }));

/** A flow top <- two kids, and a way to apply a kid's notice to top by hand. */
async function twoKids(s: TestScope) {
  const flow = await flows(s).add({ queue: 'top', children: [{ queue: 'kid', payload: 1 }, { queue: 'kid', payload: 2 }] });
  const [a, b] = flow.tree.children as [FlowNodeRef, FlowNodeRef];
  const top = new QueueKeys(s.prefix, 'top');
  const client = s.client();
  const record = (child: FlowNodeRef, version: number, outcome: string) =>
    runScript(client, flowScripts.recordOutcomes(top, flow.id, [{ child: `kid|${child.id}`, version, outcome }]));
  return { flow, a, b, record };
}

describe('the siblings a failure cancelled, after its child was retried', () => {
  it('are retried when the retried child completion replaced its retry notice before it was applied', async () => {
    const s = scope();
    const { flow, a, b, record } = await twoKids(s);
    expect(await record(a, 1, 'f{"name":"Error","message":"no"}')).toMatchObject({ cancel: [`kid|${b.id}`] });
    await record(b, 1, 'x'); // the cascade cancelled b
    // a retried (notice 2: 'r'), ran and completed (notice 3 replaced notice 2 before any apply)
    const reply = await record(a, 3, 'c1');
    expect((await s.queue('top').getTask(flow.id))?.state).toBe('dependencies');
    expect(reply.retry).toEqual([`kid|${b.id}`]);
  });

  it('are retried by the sweep after the retried child completed, when the caller died before retrying them', async () => {
    const s = scope();
    const { flow, a, b, record } = await twoKids(s);
    await record(a, 1, 'f{"name":"Error","message":"no"}');
    await record(b, 1, 'x');
    expect(await record(a, 2, 'r')).toMatchObject({ retry: [`kid|${b.id}`] }); // the caller dies here
    // a runs and completes: its notice 3 replaces notice 2; the sweep applies notice 3
    expect((await record(a, 3, 'c1')).retry).toEqual([`kid|${b.id}`]);
    // b's retry notice comes: nothing is left to retry, and the parent waits for b only
    expect((await record(b, 2, 'r')).retry).toEqual([]);
    expect(await s.client().hexists(new QueueKeys(s.prefix, 'top').task(flow.id), TASK_FIELDS.retrying)).toBe(0);
    expect(await record(b, 3, 'c2')).toMatchObject({ released: true, retry: [] });
  });

  it('end to end: 49 siblings cancelled by a failure all run again when it is retried, and the parent once', async () => {
    const s = scope();
    let healthy = false;
    s.worker<number, number>('bad', async (task) => {
      if (!healthy) throw new Error('down');
      return task.payload;
    });
    const runs: number[] = [];
    s.worker('top', async (_t, context) => {
      const results = Object.values(await context.children()).map((c) => c.result as number);
      runs.push(results.reduce((a, b) => a + b, 0));
      return 'ran';
    });
    // no 'kid' worker yet: the 49 wait, and the failure's cascade cancels them
    const children = [{ queue: 'bad', payload: 0, attempts: 1 }, ...Array.from({ length: 49 }, (_, i) => ({ queue: 'kid', payload: i + 1 }))];
    const flow = await flows(s).add({ queue: 'top', children });
    await expect(flow.result({ timeoutMs: 10_000 })).rejects.toThrow(/failed/);
    await vi.waitFor(async () => expect((await s.queue('kid').counts()).cancelled).toBe(49), { timeout: 5_000 }); // the cascade, after the parent failed
    healthy = true;
    s.worker<number, number>('kid', async (task) => task.payload, { concurrency: 10 });
    await s.queue('bad').retry(flow.tree.children[0]!.id);
    await expect(flow.result({ timeoutMs: 10_000 })).resolves.toBe('ran');
    expect(runs).toEqual([(49 * 50) / 2]);
    expect(await s.client().hexists(new QueueKeys(s.prefix, 'top').task(flow.id), TASK_FIELDS.retrying)).toBe(0);
  }, 20_000);
});

describe("the 'fail' policy after a re-open", () => {
  it('does not re-open a parent while another child is failed: it names that child instead', async () => {
    const s = scope();
    const { flow, a, b, record } = await twoKids(s);
    await record(a, 1, 'f{"name":"Error","message":"a down"}');
    await record(b, 1, 'f{"name":"Error","message":"b down"}'); // failed on its own, after the cascade asked
    await record(a, 2, 'r'); // the operator retries the child the error names
    const last = await record(a, 3, 'c1');
    const parent = await s.queue('top').getTask(flow.id);
    expect({ released: last.released, state: parent?.state, error: parent?.error?.message }).toEqual({ released: false, state: 'failed', error: `child kid/${b.id} failed: Error: b down` });
    // retrying b, now named, re-opens it; b's completion runs it
    await record(b, 2, 'r');
    expect((await s.queue('top').getTask(flow.id))?.state).toBe('dependencies');
    expect((await record(b, 3, 'c2')).released).toBe(true);
  });

  it('end to end: two children fail together; retrying the named one does not run the parent with a failed child', async () => {
    const s = scope();
    const f = flows(s);
    let healthy = false;
    let started = 0;
    let go!: () => void;
    const both = new Promise<void>((r) => (go = r));
    s.worker<string, string>('kids', async (task) => {
      if (healthy) return task.payload;
      if (++started === 2) go();
      await both;
      throw new Error('down');
    }, { concurrency: 2 });
    const runs: unknown[] = [];
    s.worker('top', async (_t, context) => {
      runs.push(Object.values(await context.children()).map((x) => x.state));
      return 'ran';
    });
    const flow = await f.add({ queue: 'top', children: [{ queue: 'kids', payload: 'a', attempts: 1 }, { queue: 'kids', payload: 'b', attempts: 1 }] });
    const err = await flow.result({ timeoutMs: 10_000 }).catch((e: Error) => e);
    const named = /child kids\/(\d+) failed/.exec(String((err as Error).message))![1]!;
    const other = flow.tree.children.find((c) => c.id !== named)!.id;
    // both failures recorded on the parent
    const kidsKeys = new QueueKeys(s.prefix, 'kids');
    const client = s.client();
    await vi.waitFor(async () => {
      expect(await client.hlen(kidsKeys.notices)).toBe(0);
      expect((await s.queue('kids').getTask(other))?.state).toBe('failed');
    }, { timeout: 5_000 });
    healthy = true;
    await s.queue('kids').retry(named);
    await vi.waitFor(async () => expect((await s.queue('kids').getTask(named))?.state).toBe('completed'), { timeout: 5_000 });
    const parent = await s.queue('top').getTask(flow.id);
    expect({ state: parent?.state, error: parent?.error?.message, runs }).toEqual({ state: 'failed', error: `child kids/${other} failed: Error: down`, runs: [] });
    // retrying the other one runs the parent, with both children completed
    await s.queue('kids').retry(other);
    await expect(flow.result({ timeoutMs: 5_000 })).resolves.toBe('ran');
    expect(runs).toEqual([['completed', 'completed']]);
  }, 20_000);
});
