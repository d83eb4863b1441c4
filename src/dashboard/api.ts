/**
 * The UI's JSON API under /ui/api: the session (CSRF token and what the gateway serves),
 * tasks by state with paging, one task in full, search by id and payload text, and the
 * actions (retry, cancel, remove, retry all failed, pause, resume). Every route accepts
 * the session cookie (auth.ts) and is left out of /openapi.json: scripts use /v1. The
 * plugin (plugin.ts) checks the CSRF token of every POST before these handlers run.
 */
import type { FlowTreeNode } from '../flows/flows.js';
import { assertFlowReach, queuesOfTree } from '../gateway/flow-reach.js';
import { assertResource } from '../gateway/scopes.js';
import { z } from 'zod';
import { DEFAULT_SCAN_LIMIT, MAX_SEARCH_TEXT } from '../admin/search.js';
import { TaskNotFoundError } from '../errors.js';
import type { GatewayContext } from '../gateway/context.js';
import { DEMO_CHANNEL, DEMO_QUEUE } from '../gateway/demo.js';
import { queueParams, taskParams, type ZodTypeProvider } from '../gateway/schema.js';
import type { FastifyPluginAsync } from 'fastify';
import type { SessionKeys } from '../gateway/session.js';
import { API_BASE, PAGE_SIZE, TASK_STATES, type FlowNodeView, type ActionAnswer, type SearchAnswer, type SessionInfo, type TaskDetail, type TaskPage } from './shared.js';
import { summarize } from './snapshots.js';

const listQuery = z
  .object({
    state: z.enum(TASK_STATES),
    offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
    limit: z.coerce.number().int().min(1).max(200).default(PAGE_SIZE),
  })
  .strict();
const searchQuery = z.object({ text: z.string().min(1).max(MAX_SEARCH_TEXT) }).strict();

export const apiRoutes =
  (ctx: GatewayContext, sessions: SessionKeys): FastifyPluginAsync =>
  async (instance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();
    const api = { session: 'api' as const };
    const read = { ...api, scope: 'read' as const };
    const hide = true;
    const queue = (name: string) => ctx.admin.queue(name);

    app.get(`${API_BASE}/session`, { config: { ...api, scope: 'any' } }, async (request): Promise<SessionInfo> => ({
      csrf: sessions.csrfToken(request.dashboardSession),
      auth: sessions.enabled,
      demo: ctx.options.demo ? { queue: DEMO_QUEUE, channel: DEMO_CHANNEL } : null,
      searchScanLimit: DEFAULT_SCAN_LIMIT,
    }));

    app.get(
      `${API_BASE}/queues/:queue/tasks`,
      { config: read, schema: { hide, params: queueParams, querystring: listQuery } },
      async (request): Promise<TaskPage> => {
        const { state, offset, limit } = request.query;
        const tasks = await queue(request.params.queue).list(state, { offset, limit });
        return { state, offset, limit, tasks: tasks.map(summarize) };
      },
    );

    app.get(
      `${API_BASE}/queues/:queue/tasks/:id`,
      { config: read, schema: { hide, params: taskParams } },
      async (request): Promise<TaskDetail> => {
        const { queue: name, id } = request.params;
        const task = await queue(name).getTask(id);
        if (!task) throw new TaskNotFoundError(name, id);
        return task;
      },
    );

    app.get(
      `${API_BASE}/queues/:queue/tasks/:id/flow`,
      { config: read, schema: { hide, params: taskParams } },
      async (request): Promise<FlowNodeView> => {
        const { queue: name, id } = request.params;
        const tree = await ctx.admin.flows.get(name, id, { maxNodes: FLOW_NODES_SHOWN });
        if (!tree) throw new TaskNotFoundError(name, id);
        // A token limited to some queues sees a flow only if it lists every queue of it.
        for (const queue of queuesOfTree(tree)) assertResource(request.identity, 'queue', queue);
        return flowView(tree);
      },
    );

    app.get(
      `${API_BASE}/queues/:queue/search`,
      { config: read, schema: { hide, params: queueParams, querystring: searchQuery } },
      async (request): Promise<SearchAnswer> => {
        const { text } = request.query;
        const found = await ctx.admin.search(request.params.queue, { text });
        return {
          text,
          byId: found.byId ? summarize(found.byId) : null,
          matches: found.matches.map(summarize),
          scanned: found.scanned,
          scanLimit: DEFAULT_SCAN_LIMIT,
          stoppedBy: found.stoppedBy,
        };
      },
    );

    for (const action of ['retry', 'cancel', 'remove'] as const) {
      app.post(
        `${API_BASE}/queues/:queue/tasks/:id/${action}`,
        { config: api, schema: { hide, params: taskParams } },
        async (request): Promise<ActionAnswer> => {
          const { queue: name, id } = request.params;
          await assertFlowReach(request.identity, ctx.admin.flows, name, id);
          await queue(name)[action](id);
          request.log.info({ queue: name, task: id, action }, `dashboard: ${action} task ${id} of ${name}`);
          if (action === 'remove') return { id, state: 'removed' };
          // Read back: a retried task may already be running (or done) by now.
          const task = await queue(name).getTask(id);
          return { id, state: task?.state ?? 'removed' };
        },
      );
    }

    app.post(`${API_BASE}/queues/:queue/retry-failed`, { config: api, schema: { hide, params: queueParams } }, async (request) => {
      const retried = await queue(request.params.queue).retryAllFailed();
      request.log.info({ queue: request.params.queue, retried: retried.length }, 'dashboard: retry all failed');
      return { retried: retried.length };
    });

    for (const action of ['pause', 'resume'] as const) {
      app.post(`${API_BASE}/queues/:queue/${action}`, { config: api, schema: { hide, params: queueParams } }, async (request) => {
        await queue(request.params.queue)[action]();
        request.log.info({ queue: request.params.queue, action }, `dashboard: ${action} queue`);
        return { name: request.params.queue, paused: action === 'pause' };
      });
    }
  };

/** Nodes of a flow the task page draws at most (breadth first from the task). */
const FLOW_NODES_SHOWN = 200;

function flowView(node: FlowTreeNode): FlowNodeView {
  const view: FlowNodeView = { queue: node.queue, id: node.id, state: node.state, children: node.children.map(flowView) };
  if (node.parent) view.parent = node.parent;
  return view;
}
