// `errand inspect` on a flow's nodes: a parent lists its children with their states, a
// child names its parent; --json adds the same as `flow`.
import { describe, expect, it } from 'vitest';
import { Flows } from '../src/index.js';
import { useRedis, useScope } from './support/fixtures.js';
import { useCli } from './support/cli.js';

const redis = useRedis();
const scope = useScope(redis);
const cli = useCli(() => ({ url: redis.url, prefix: scope().prefix }));

describe('errand inspect on a flow', () => {
  it("shows a parent's children with their states, and a child's parent", async () => {
    const s = scope();
    const flows = s.add(new Flows({ connection: redis.url, prefix: s.prefix }));
    const flow = await flows.add({ queue: 'reports', children: [{ queue: 'fetch', payload: 1 }, { queue: 'parts', payload: 2 }] });
    const [fetch, parts] = flow.tree.children;
    const parent = await cli.run(['inspect', 'reports', flow.id]);
    expect(parent.code).toBe(0);
    expect(parent.stdout).toMatch(/^state +dependencies$/m);
    expect(parent.stdout).toContain(`children:\n  fetch ${fetch!.id}  waiting\n  parts ${parts!.id}  waiting\n`);
    const child = await cli.run(['inspect', 'fetch', fetch!.id]);
    expect(child.stdout).toMatch(new RegExp(`^parent +reports ${flow.id}$`, 'm'));
    const json = JSON.parse((await cli.run(['inspect', 'reports', flow.id, '--json'])).stdout);
    expect(json).toMatchObject({ id: flow.id, state: 'dependencies', flow: { children: [{ queue: 'fetch', id: fetch!.id, state: 'waiting' }, { queue: 'parts', state: 'waiting' }], more: false } });
    // A task outside any flow shows no flow part.
    const plain = await s.queue('plain').enqueue(1);
    const shown = JSON.parse((await cli.run(['inspect', 'plain', plain.id, '--json'])).stdout);
    expect(shown).not.toHaveProperty('flow');
  });
});
