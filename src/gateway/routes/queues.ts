/**
 * Queue routes: list queues with their counts, one queue's counts, pause and resume.
 * A queue exists once anything used it; counts of a name never used are all zero.
 */
import { z } from 'zod';
import type { RoutePlugin } from '../context.js';
import { errorSchema, queueParams, type ZodTypeProvider } from '../schema.js';

export const countsSchema = z
  .object({
    name: z.string(),
    waiting: z.number().int(),
    delayed: z.number().int(),
    active: z.number().int(),
    completed: z.number().int().meta({ description: 'completed tasks still retained' }),
    failed: z.number().int().meta({ description: 'failed tasks still retained (the dead-letter list)' }),
    cancelled: z.number().int(),
    paused: z.boolean(),
    groups: z.number().int().meta({ description: 'groups with waiting tasks' }),
    partitions: z
      .array(
        z.object({
          partition: z.number().int(),
          routed: z.boolean().meta({ description: 'new tasks go there (false: drained since the partition count was lowered)' }),
          waiting: z.number().int(),
          delayed: z.number().int(),
          active: z.number().int(),
          completed: z.number().int(),
          failed: z.number().int(),
          cancelled: z.number().int(),
          paused: z.boolean(),
          groups: z.number().int(),
        }),
      )
      .optional()
      .meta({ description: "a partitioned queue's partitions, each with its own counts (the fields above are their sums)" }),
  })
  .meta({ id: 'QueueCounts' });

const pausedSchema = z.object({ name: z.string(), paused: z.boolean() });
const errors = { 400: errorSchema, 401: errorSchema, 503: errorSchema };

export const queueRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const tags = ['queues'];

  app.get(
    '/queues',
    { config: { scope: 'read' }, schema: { summary: 'Every queue with its counts', tags, response: { 200: z.object({ queues: z.array(countsSchema) }), ...errors } } },
    async () => ({ queues: await ctx.admin.overview() }),
  );

  app.get(
    '/queues/:queue',
    { config: { scope: 'read' }, schema: { summary: "A queue's counts and paused flag", tags, params: queueParams, response: { 200: countsSchema, ...errors } } },
    async (request) => ({ name: request.params.queue, ...(await ctx.admin.queue(request.params.queue).counts()) }),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/queues/:queue/${action}`,
      {
        schema: {
          summary: action === 'pause' ? 'Stop workers from claiming (running tasks go on)' : 'Let workers claim again',
          tags,
          params: queueParams,
          response: { 200: pausedSchema, ...errors },
        },
      },
      async (request) => {
        await ctx.admin.queue(request.params.queue)[action]();
        return { name: request.params.queue, paused: action === 'pause' };
      },
    );
  }
};
