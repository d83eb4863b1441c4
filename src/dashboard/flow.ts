/**
 * The UI API's flow-control routes: a queue's settings (read; changed by the settings
 * panel, admin scope, CSRF-checked like every POST) and its groups (largest backlog
 * first, paged; one group paused or resumed, admin scope). A refused change answers 400 with what
 * is wrong with each field (`fields`), so the panel shows it beside the field, and writes
 * nothing. Left out of /openapi.json like the rest of /ui/api: scripts use /v1.
 */
import { z } from 'zod';
import { formatIssues } from '../config.js';
import { ValidationError } from '../errors.js';
import type { GatewayContext } from '../gateway/context.js';
import { errorBody } from '../gateway/errors.js';
import { nameSchema, queueParams, type ZodTypeProvider } from '../gateway/schema.js';
import { settingsPatchSchema } from '../queue/settings.js';
import type { FastifyPluginAsync } from 'fastify';
import { API_BASE, GROUPS_PAGE_SIZE, type ErrorBody, type GroupPage, type SettingsView } from './shared.js';

const groupParams = z.object({ queue: nameSchema('queue'), group: nameSchema('group') }).strict();
const pageQuery = z
  .object({
    offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
    limit: z.coerce.number().int().min(1).max(200).default(GROUPS_PAGE_SIZE),
  })
  .strict();

/** What is wrong with each field of a refused settings change, by path. */
function fieldProblems(issues: readonly z.core.$ZodIssue[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key].join('.')) : [issue.path.join('.') || '(settings)'];
    for (const key of keys) fields[key] ??= issue.code === 'unrecognized_keys' ? 'not a setting' : issue.message;
  }
  return fields;
}

export const flowRoutes =
  (ctx: GatewayContext): FastifyPluginAsync =>
  async (instance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();
    const api = { session: 'api' as const };
    const hide = true;
    const queue = (name: string) => ctx.admin.queue(name);

    app.get(
      `${API_BASE}/queues/:queue/settings`,
      // Admin, like GET /v1/queues/:queue/settings.
      { config: api, schema: { hide, params: queueParams } },
      async (request): Promise<SettingsView> => queue(request.params.queue).settings(),
    );

    // Admin (no scope declared). The body is checked here rather than by the route schema,
    // so a refusal can say which field is wrong.
    app.post(`${API_BASE}/queues/:queue/settings`, { config: api, schema: { hide, params: queueParams } }, async (request, reply) => {
      const parsed = settingsPatchSchema.safeParse(request.body ?? {});
      if (!parsed.success) {
        const error = new ValidationError(`invalid queue settings: ${formatIssues(parsed.error.issues)}`);
        const body: ErrorBody = { ...errorBody(error), fields: fieldProblems(parsed.error.issues) };
        return reply.status(error.httpStatus).send(body);
      }
      const settings: SettingsView = await queue(request.params.queue).configure(parsed.data);
      request.log.info({ queue: request.params.queue, version: settings.version }, 'dashboard: queue settings changed');
      return settings;
    });

    app.get(
      `${API_BASE}/queues/:queue/groups`,
      { config: { ...api, scope: 'read' }, schema: { hide, params: queueParams, querystring: pageQuery } },
      async (request): Promise<GroupPage> => {
        const { offset, limit } = request.query;
        const page = await queue(request.params.queue).groups({ offset, limit });
        return { total: page.total, offset, groups: page.groups };
      },
    );

    for (const action of ['pause', 'resume'] as const) {
      app.post(`${API_BASE}/queues/:queue/groups/:group/${action}`, { config: api, schema: { hide, params: groupParams } }, async (request) => {
        const { queue: name, group } = request.params;
        await (action === 'pause' ? queue(name).pauseGroup(group) : queue(name).resumeGroup(group));
        request.log.info({ queue: name, group, action }, `dashboard: ${action} group`);
        return { group, paused: action === 'pause' };
      });
    }

  };
