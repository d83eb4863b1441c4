/**
 * Flow-control routes: a queue's settings (read and patched: the queue-wide settings kept
 * in Redis, that every worker applies at its next claim), and its groups (listed by
 * backlog; one group's own limits, pause and resume). Settings and group changes need the
 * admin scope; reading the groups, the read scope.
 */
import { z } from 'zod';
import { groupLimitsSchema, settingsPatchSchema } from '../../queue/settings.js';
import type { RoutePlugin } from '../context.js';
import { errorSchema, nameSchema, queueParams, type ZodTypeProvider } from '../schema.js';

const rateSchema = z.object({ max: z.number().int(), perMs: z.number().int() });

const settingsSchema = z
  .object({
    version: z.number().int().meta({ description: 'one up with every change; 0: never configured' }),
    maxWaiting: z.number().int().nullable(),
    retention: z.object({
      completed: z.object({ count: z.number().int(), maxAgeMs: z.number().int() }),
      failed: z.object({ count: z.number().int(), maxAgeMs: z.number().int() }),
    }),
    rateLimit: rateSchema.nullable(),
    concurrency: z.number().int().nullable(),
    groups: z.object({ concurrency: z.number().int().nullable(), rateLimit: rateSchema.nullable() }),
    partitions: z.number().int().meta({ description: 'partitions new tasks spread over (1: not partitioned); see docs/semantics.md' }),
  })
  .meta({ id: 'QueueSettings' });

const groupSchema = z
  .object({
    name: z.string(),
    waiting: z.number().int(),
    active: z.number().int(),
    paused: z.boolean(),
    heldUntil: z.number().int().optional().meta({ description: 'held (a limit, or a handler\'s RateLimitedError) until this epoch ms' }),
    limits: z.object({ concurrency: z.number().int().optional(), rateLimit: rateSchema.optional() }).meta({ description: "the group's own limits; one left out is the queue's default for every group" }),
  })
  .meta({ id: 'Group' });

const groupParams = z.object({ queue: nameSchema('queue'), group: nameSchema('group') }).strict();
const pageQuery = z
  .object({
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1_000).default(50),
  })
  .strict();
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema };

export const settingsRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const tags = ['flow control'];

  app.get(
    '/queues/:queue/settings',
    { schema: { summary: "A queue's settings, defaults filled in", tags, params: queueParams, response: { 200: settingsSchema, ...errors } } },
    async (request) => ctx.admin.queue(request.params.queue).settings(),
  );

  app.patch(
    '/queues/:queue/settings',
    {
      schema: {
        summary: "Change a queue's settings (a patch: fields left out stay, null removes a limit)",
        description:
          'Applied by every worker at its next claim, with no restart. Answers with the settings now in force. 409 SETTINGS_CONFLICT: other changes kept landing while this one was applied, or held the settings too long (not applied; send it again).',
        tags,
        params: queueParams,
        body: settingsPatchSchema,
        response: { 200: settingsSchema, ...errors, 409: errorSchema },
      },
    },
    async (request) => ctx.admin.queue(request.params.queue).configure(request.body),
  );

  app.get(
    '/queues/:queue/groups',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A queue's groups with waiting or active tasks, largest backlog first",
        tags,
        params: queueParams,
        querystring: pageQuery,
        response: { 200: z.object({ total: z.number().int(), groups: z.array(groupSchema) }), ...errors },
      },
    },
    async (request) => ctx.admin.queue(request.params.queue).groups(request.query),
  );

  app.patch(
    '/queues/:queue/groups/:group/settings',
    {
      schema: {
        summary: "Give one group its own limits (null: the queue's default for every group)",
        tags,
        params: groupParams,
        body: groupLimitsSchema,
        response: { 200: z.object({ queue: z.string(), group: z.string() }), ...errors },
      },
    },
    async (request) => {
      await ctx.admin.queue(request.params.queue).configureGroup(request.params.group, request.body);
      return { queue: request.params.queue, group: request.params.group };
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/queues/:queue/groups/:group/${action}`,
      {
        schema: {
          summary: action === 'pause' ? "Stop claims of one group's tasks (the others go on)" : 'Let one group be claimed again',
          tags,
          params: groupParams,
          response: { 200: z.object({ queue: z.string(), group: z.string(), paused: z.boolean() }), ...errors },
        },
      },
      async (request) => {
        const queue = ctx.admin.queue(request.params.queue);
        await (action === 'pause' ? queue.pauseGroup(request.params.group) : queue.resumeGroup(request.params.group));
        return { queue: request.params.queue, group: request.params.group, paused: action === 'pause' };
      },
    );
  }
};
