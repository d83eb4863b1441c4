/**
 * Flows over HTTP: POST /v1/flows creates a tree across queues (/v1/flows/chain a chain), GET
 * /v1/flows/:queue/:id reads a node's tree with the state of every node; bad trees are
 * refused with 400 naming the node, nothing written; an unknown node is 404.
 */
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';
import { call, expectRefused, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

describe('flows over HTTP', () => {
  it('creates a tree, shows it with states, and runs the parent after its children', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const created = await call(gw, 'POST', '/v1/flows', {
      queue: 'reports',
      payload: { id: 7 },
      onChildFailure: 'continue',
      children: [{ queue: 'fetch', payload: 1 }, { queue: 'fetch', payload: 2, children: [{ queue: 'parts', payload: 3 }] }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ queue: 'reports', tree: { queue: 'reports', children: [{ queue: 'fetch', children: [] }, { queue: 'fetch', children: [{ queue: 'parts' }] }] } });
    const { id } = created.body as { id: string };
    const before = await call(gw, 'GET', `/v1/flows/reports/${id}`);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ id, state: 'dependencies', children: [{ state: 'waiting' }, { state: 'dependencies', children: [{ state: 'waiting', parent: { queue: 'fetch' } }] }] });

    s.worker<number, number>('parts', async (task) => task.payload * 10);
    s.worker<number, number>('fetch', async (task, context) => task.payload + Object.values(await context.children()).reduce((sum, c) => sum + Number(c.result), 0));
    s.worker('reports', async (_task, context) => Object.values(await context.children()).map((c) => c.result).sort());
    await expect(s.queue('reports').result(id, { timeoutMs: 10_000 })).resolves.toEqual([1, 32]);
    const after = await call(gw, 'GET', `/v1/flows/reports/${id}`);
    expect(after.body).toMatchObject({ state: 'completed', result: [1, 32], children: [{ state: 'completed' }, { state: 'completed', result: 32, children: [{ state: 'completed', result: 30 }] }] });
    // A child's view names its parent.
    const child = await call(gw, 'GET', `/v1/flows/fetch/${after.body.children[1].id}`);
    expect(child.body).toMatchObject({ parent: { queue: 'reports', id }, children: [{ queue: 'parts' }] });
  });

  it('creates a chain', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    const created = await call(gw, 'POST', '/v1/flows/chain', { chain: [{ queue: 'resize', payload: 'cat.png' }, { queue: 'upload' }] });
    expect(created.status).toBe(201);
    s.worker<string, string>('resize', async (task) => `${task.payload}:small`);
    s.worker('upload', async (task) => `cdn/${String(task.previous)}`);
    await expect(s.queue('upload').result(created.body.id, { timeoutMs: 10_000 })).resolves.toBe('cdn/cat.png:small');
  });

  it('refuses bad trees with 400 naming the problem, writing nothing; an unknown node is 404', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis);
    await expectRefused(s, gw, ['POST', '/v1/flows', { queue: 'bad name' }, 400, /invalid queue name/]);
    await expectRefused(s, gw, ['POST', '/v1/flows', { queue: 'ok', children: [{ queue: 'ok', extra: 1 }] }, 400, /extra/]);
    await expectRefused(s, gw, ['POST', '/v1/flows', { queue: 'ok', onChildFailure: 'maybe', children: [{ queue: 'ok' }] }, 400, /onChildFailure/]);
    await expectRefused(s, gw, ['POST', '/v1/flows/chain', { chain: [{ queue: 'a', payload: 1 }, { queue: 'b', payload: 2 }] }, 400, /step 2 has a payload/]);
    const missing = await call(gw, 'GET', '/v1/flows/reports/123');
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'TASK_NOT_FOUND' } } });
  });
});

describe('flows and limited tokens', () => {
  it('reach a flow only when they list every queue it touches', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, {
      token: 'admin-token-0123456789',
      tokens: [
        { name: 'producer', token: 'producer-token-0123456789', scope: 'enqueue', queues: ['reports', 'fetch'] },
        { name: 'reader', token: 'reader-token-0123456789', scope: 'read', queues: ['reports'] },
      ],
    });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const refused = await call(gw, 'POST', '/v1/flows', { queue: 'reports', children: [{ queue: 'fetch' }, { queue: 'parts' }] }, as('producer-token-0123456789'));
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(refused.body.error.message).toContain('"parts"');
    expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
    const chainRefused = await call(gw, 'POST', '/v1/flows/chain', { chain: [{ queue: 'fetch' }, { queue: 'parts' }] }, as('producer-token-0123456789'));
    expect(chainRefused.status).toBe(403);
    const created = await call(gw, 'POST', '/v1/flows', { queue: 'reports', children: [{ queue: 'fetch' }] }, as('producer-token-0123456789'));
    expect(created.status).toBe(201);
    // The reader lists the root's queue but not its child's: the tree is refused whole.
    const read = await call(gw, 'GET', `/v1/flows/reports/${created.body.id}`, undefined, as('reader-token-0123456789'));
    expect(read).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    const admin = await call(gw, 'GET', `/v1/flows/reports/${created.body.id}`, undefined, as('admin-token-0123456789'));
    expect(admin.status).toBe(200);
  });
});
