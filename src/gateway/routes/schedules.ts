/**
 * Schedule routes: a queue's schedules listed and read (read scope), created or changed
 * with PUT (an upsert: the same definition changes nothing), removed, paused, resumed and
 * run now (admin scope). The definition's schema is the library's (scheduleJsonSchema), and
 * so are its checks (the cron expression's fields, the time zone), answered as 400.
 */
import { z } from 'zod';
import { ScheduleNotFoundError } from '../../errors.js';
import { SCHEDULE_ID_PATTERN, scheduleJsonSchema } from '../../queue/schedules.js';
import type { RoutePlugin } from '../context.js';
import { errorSchema, nameSchema, queueParams, type ZodTypeProvider } from '../schema.js';

const scheduleSchema = z
  .object({
    id: z.string(),
    definition: z.record(z.string(), z.unknown()).meta({ description: 'the definition as stored: times as epoch ms, defaults filled in' }),
    nextRunAt: z.number().int().nullable().meta({ description: 'when the next slot falls due (epoch ms, Redis clock); null while paused or once ended' }),
    lastSlotAt: z.number().int().nullable().meta({ description: 'the last slot that fell due (run, or skipped by the catch-up rule)' }),
    lastRunAt: z.number().int().nullable(),
    lastTaskId: z.string().nullable(),
    runs: z.number().int(),
    paused: z.boolean(),
    ended: z.boolean(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .meta({ id: 'Schedule' });

const scheduleParams = z
  .object({ queue: nameSchema('queue'), id: z.string().regex(SCHEDULE_ID_PATTERN, 'invalid schedule id: use 1-100 characters from A-Z a-z 0-9 . _ -') })
  .strict();
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 503: errorSchema };

export const scheduleRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const tags = ['schedules'];
  const queue = (name: string) => ctx.admin.queue(name);

  app.get(
    '/queues/:queue/schedules',
    {
      config: { scope: 'read' },
      schema: { summary: "A queue's schedules, by next run", tags, params: queueParams, response: { 200: z.object({ schedules: z.array(scheduleSchema) }), ...errors } },
    },
    async (request) => ({ schedules: await queue(request.params.queue).schedules() }),
  );

  app.get(
    '/queues/:queue/schedules/:id',
    { config: { scope: 'read' }, schema: { summary: 'One schedule with its next and last run', tags, params: scheduleParams, response: { 200: scheduleSchema, ...errors } } },
    async (request) => {
      const { queue: name, id } = request.params;
      const schedule = await queue(name).getSchedule(id);
      if (!schedule) throw new ScheduleNotFoundError(name, id);
      return schedule;
    },
  );

  app.put(
    '/queues/:queue/schedules/:id',
    {
      schema: {
        summary: 'Create or change a schedule (the same definition again changes nothing)',
        description:
          'One task per slot, created by the first worker to claim once the slot is due (id `sched:<id>:<slot ms>`). ' +
          '201 when created; 200 when changed (from its first slot after now) or unchanged (`change` says which).',
        tags,
        params: scheduleParams,
        body: scheduleJsonSchema,
        response: { 200: scheduleSchema.extend({ change: z.enum(['created', 'changed', 'unchanged']) }), 201: scheduleSchema.extend({ change: z.enum(['created', 'changed', 'unchanged']) }), ...errors },
      },
    },
    async (request, reply) => {
      const { queue: name, id } = request.params;
      const schedule = await queue(name).schedule(id, request.body);
      request.log.info({ queue: name, schedule: id, change: schedule.change }, `schedule ${id} of ${name}: ${schedule.change}`);
      return reply.status(schedule.change === 'created' ? 201 : 200).send(schedule);
    },
  );

  app.delete(
    '/queues/:queue/schedules/:id',
    { schema: { summary: 'Remove a schedule (the tasks it created stay)', tags, params: scheduleParams, response: { 200: z.object({ id: z.string(), removed: z.boolean() }), ...errors } } },
    async (request) => {
      const { queue: name, id } = request.params;
      if (!(await queue(name).unschedule(id))) throw new ScheduleNotFoundError(name, id);
      return { id, removed: true };
    },
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/queues/:queue/schedules/:id/${action}`,
      {
        schema: {
          summary: action === 'pause' ? 'Pause a schedule (no slot falls due)' : 'Resume a schedule from its first slot after now',
          tags,
          params: scheduleParams,
          response: { 200: scheduleSchema, ...errors },
        },
      },
      async (request) => {
        const { queue: name, id } = request.params;
        return action === 'pause' ? queue(name).pauseSchedule(id) : queue(name).resumeSchedule(id);
      },
    );
  }

  app.post(
    '/queues/:queue/schedules/:id/run',
    {
      schema: {
        summary: 'Run a schedule now, besides its slots',
        description: 'Creates a task with the schedule\'s payload and options (id `sched:<id>:now:<ms>`); the next slot stays.',
        tags,
        params: scheduleParams,
        response: { 201: z.object({ id: z.string(), created: z.boolean(), state: z.string() }), 429: errorSchema, ...errors },
      },
    },
    async (request, reply) => {
      const task = await queue(request.params.queue).runSchedule(request.params.id);
      return reply.status(201).send({ id: task.id, created: true, state: 'waiting' });
    },
  );
};
