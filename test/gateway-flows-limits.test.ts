/**
 * The flow routes at their limits: a tree deeper than the gateway takes and a chain longer
 * than it takes are refused with 400 before anything is written (JSON nests only so deep:
 * such a flow could not be answered), the longest allowed chain is answered and read back,
 * and a token limited to some queues cannot reach other queues through a flow's cascades.
 */
import { describe, expect, it } from 'vitest';
import { Flows } from '../src/index.js';
import { useRedis, useScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

describe('flow routes at their limits', () => {
  it('refuse a tree deeper than 1,000 levels with 400, writing nothing', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    for (const depth of [1_001, 3_000]) {
      const body = '{"queue":"a","children":['.repeat(depth) + '{"queue":"a"}' + ']}'.repeat(depth);
      const reply = await call(gw, 'POST', '/v1/flows', body, { 'content-type': 'application/json' });
      expect([depth, reply.status]).toEqual([depth, 400]);
    }
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
  }, 30_000);

  it('refuse a chain over 1,000 steps with 400, and answer one of 1,000 that reads back', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const steps = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? { queue: 'a', payload: 1 } : { queue: 'a' }));
    const refused = await call(gw, 'POST', '/v1/flows/chain', { chain: steps(1_001) });
    expect(refused.status).toBe(400);
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
    const created = await call(gw, 'POST', '/v1/flows/chain', { chain: steps(1_000) });
    expect(created.status).toBe(201);
    const read = await call(gw, 'GET', `/v1/flows/a/${String((created.body as { id: string }).id)}`);
    expect(read.status).toBe(200);
  }, 30_000);

  it('refuse a token limited to some queues an action whose cascade reaches another queue', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, {
      token: 'admin-token-0123456789',
      tokens: [{ name: 'rootonly', token: 'root-only-token-0123456789', scope: 'admin', queues: ['root'] }],
    });
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    const flow = await flows.add({ queue: 'root', children: [{ queue: 'secret', payload: 1 }] });
    const childId = flow.tree.children[0]!.id;
    const auth = { authorization: 'Bearer root-only-token-0123456789' };
    expect((await call(gw, 'DELETE', `/v1/queues/secret/tasks/${childId}`, undefined, auth)).status).toBe(403);
    // Cancelling the parent would cancel the child on 'secret'; retrying it, re-open and retry there.
    expect((await call(gw, 'DELETE', `/v1/queues/root/tasks/${flow.id}`, undefined, auth)).status).toBe(403);
    expect((await s.queue('secret').getTask(childId))?.state).toBe('waiting');
    expect((await s.queue('root').getTask(flow.id))?.state).toBe('dependencies');
    // A plain task on its own queue is still the token's to act on.
    const plain = await s.queue('root').enqueue(1);
    expect((await call(gw, 'DELETE', `/v1/queues/root/tasks/${plain.id}`, undefined, auth)).status).toBe(200);
    // An unlimited token may.
    const admin = { authorization: 'Bearer admin-token-0123456789' };
    expect((await call(gw, 'DELETE', `/v1/queues/root/tasks/${flow.id}`, undefined, admin)).status).toBe(200);
    expect((await s.queue('secret').getTask(childId))?.state).toBe('cancelled');
  });
});
