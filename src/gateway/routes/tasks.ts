/**
 * Task routes: enqueue (one or a batch, optionally waiting for the outcome), read (with a
 * long-poll), list by state, cancel, retry, a task's log, and an event stream of a task's
 * state changes and progress.
 */
import { assertFlowReach } from '../flow-reach.js';
import { z } from 'zod';
import type { Queue } from '../../queue/queue.js';
import { TaskCancelledError, TaskFailedError, TaskNotFoundError, WaitTimeoutError } from '../../errors.js';
import { FINAL_STATES, TASK_STATES, type TaskState } from '../../queue/states.js';
import type { TaskInfo } from '../../queue/task.js';
import type { RoutePlugin } from '../context.js';
import { errorBody, toErrandError } from '../errors.js';
import { openEventStream } from '../sse.js';
import {
  errorSchema,
  newTaskSchema,
  queueParams,
  taskParams,
  toEnqueueItem,
  waitQuery,
  type ZodTypeProvider,
} from '../schema.js';

const stateSchema = z.enum(TASK_STATES);
const taskErrorSchema = z.object({ name: z.string(), message: z.string(), stack: z.string().optional() }).meta({ id: 'TaskError' });

export const taskSchema = z
  .object({
    id: z.string(),
    queue: z.string(),
    state: stateSchema,
    payload: z.unknown(),
    attempt: z.number().int().meta({ description: 'runs started so far' }),
    maxAttempts: z.number().int(),
    priority: z.number().int(),
    createdAt: z.number().meta({ description: 'epoch ms (Redis clock), as are the other times' }),
    runAt: z.number().optional(),
    startedAt: z.number().optional(),
    finishedAt: z.number().optional(),
    result: z.unknown().optional(),
    error: taskErrorSchema.optional(),
    attempts: z.array(z.object({ attempt: z.number().int(), startedAt: z.number().nullable(), finishedAt: z.number(), error: taskErrorSchema })),
    worker: z.string().optional(),
    dedupeKey: z.string().optional(),
    backoff: z.unknown().optional(),
    timeoutMs: z.number().optional(),
    group: z.string().optional(),
    progress: z.unknown().optional().meta({ description: "the latest progress the task's latest attempt reported (any JSON; 0-100 for a bar)" }),
  })
  .meta({ id: 'Task' });

const logsSchema = z
  .object({
    id: z.string(),
    queue: z.string(),
    dropped: z.number().int().meta({ description: 'lines dropped before the first one here (a log keeps its last 1,000 lines and 64 KiB)' }),
    lines: z.array(
      z.object({
        at: z.number().meta({ description: 'epoch ms (Redis clock)' }),
        attempt: z.number().int(),
        message: z.string(),
      }),
    ),
  })
  .meta({ id: 'TaskLogs' });

const outcomeShape = {
  state: stateSchema,
  finished: z.boolean().optional().meta({ description: 'with ?wait: whether the task reached a final state in time' }),
  result: z.unknown().optional().meta({ description: 'with ?wait: the result of a completed task' }),
  error: taskErrorSchema.optional().meta({ description: "with ?wait: a failed task's last error" }),
};

const enqueuedSchema = z
  .object({ id: z.string(), created: z.boolean().meta({ description: 'false: an existing task was returned (same id or dedupeKey)' }), ...outcomeShape })
  .meta({ id: 'Enqueued' });

const batchSchema = z.object({ tasks: z.array(newTaskSchema).min(1).max(10_000) }).strict();
const listQuery = z
  .object({
    state: stateSchema,
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(50),
  })
  .strict();
const actedSchema = z.object({ id: z.string(), state: stateSchema });
const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema };

type Outcome = { state: TaskState; finished: boolean; result?: unknown; error?: { name: string; message: string } };

/** Waits up to `waitMs` for a task to end; says how it ended, or its state if it did not. */
async function awaitOutcome(queue: Queue, id: string, waitMs: number): Promise<Outcome> {
  try {
    return { state: 'completed', finished: true, result: await queue.result(id, { timeoutMs: waitMs }) };
  } catch (error) {
    if (error instanceof TaskFailedError) return { state: 'failed', finished: true, error: error.error };
    if (error instanceof TaskCancelledError) return { state: 'cancelled', finished: true };
    if (!(error instanceof WaitTimeoutError)) throw error;
  }
  const task = await queue.getTask(id);
  if (!task) throw new TaskNotFoundError(queue.name, id);
  return { state: task.state, finished: FINAL_STATES.includes(task.state) };
}

export const taskRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const tags = ['tasks'];

  app.post(
    '/queues/:queue/tasks',
    {
      config: { scope: 'enqueue' },
      schema: {
        summary: 'Enqueue a task',
        description: 'With ?wait=<ms> the answer waits for the task to end (request/reply) and says whether it did.',
        tags,
        params: queueParams,
        querystring: waitQuery,
        body: newTaskSchema,
        response: { 201: enqueuedSchema, 200: enqueuedSchema, ...errors, 413: errorSchema },
      },
    },
    async (request, reply) => {
      const queue = ctx.admin.queue(request.params.queue);
      const item = toEnqueueItem(request.body);
      // A single enqueue: requests that arrive together share a script call.
      const { payload, ...options } = item;
      const { id, created } = await queue.enqueue(payload, options);
      void reply.status(created ? 201 : 200);
      if (request.query.wait !== undefined) return { id, created, ...(await awaitOutcome(queue, id, request.query.wait)) };
      // The script decides waiting or delayed; read it back only where the request cannot tell.
      if (!created || item.runAt !== undefined) {
        const info = await queue.getTask(id);
        if (!info) throw new TaskNotFoundError(queue.name, id);
        return { id, created, state: info.state };
      }
      const state: TaskState = item.delayMs ? 'delayed' : 'waiting';
      return { id, created, state };
    },
  );

  app.post(
    '/queues/:queue/tasks/batch',
    {
      config: { scope: 'enqueue' },
      schema: {
        summary: 'Enqueue many tasks in one request',
        tags,
        params: queueParams,
        body: batchSchema,
        response: { 201: z.object({ tasks: z.array(z.object({ id: z.string(), created: z.boolean() })) }), ...errors, 413: errorSchema },
      },
    },
    async (request, reply) => {
      const tasks = await ctx.admin.queue(request.params.queue).enqueueMany(request.body.tasks.map(toEnqueueItem));
      return reply.status(201).send({ tasks: tasks.map(({ id, created }) => ({ id, created })) });
    },
  );

  app.get(
    '/queues/:queue/tasks',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Tasks in one state',
        description: 'Newest first for finished states, next to run first for waiting and delayed.',
        tags,
        params: queueParams,
        querystring: listQuery,
        response: { 200: z.object({ tasks: z.array(taskSchema) }), ...errors },
      },
    },
    async (request) => {
      const { state, offset, limit } = request.query;
      return { tasks: await ctx.admin.queue(request.params.queue).list(state, { offset, limit }) };
    },
  );

  app.get(
    '/queues/:queue/tasks/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Everything stored about a task',
        description: 'With ?wait=<ms> the answer waits until the task is final or the time is up (long-poll).',
        tags,
        params: taskParams,
        querystring: waitQuery,
        response: { 200: taskSchema, ...errors },
      },
    },
    async (request) => {
      const { queue: name, id } = request.params;
      const queue = ctx.admin.queue(name);
      if (request.query.wait !== undefined) await awaitOutcome(queue, id, request.query.wait);
      const task = await queue.getTask(id);
      if (!task) throw new TaskNotFoundError(name, id);
      return task;
    },
  );

  app.delete(
    '/queues/:queue/tasks/:id',
    { schema: { summary: 'Cancel a waiting, delayed or active task', tags, params: taskParams, response: { 200: actedSchema, ...errors } } },
    async (request) => {
      await assertFlowReach(request.identity, ctx.admin.flows, request.params.queue, request.params.id);
      await ctx.admin.queue(request.params.queue).cancel(request.params.id);
      return { id: request.params.id, state: 'cancelled' as const };
    },
  );

  app.post(
    '/queues/:queue/tasks/:id/retry',
    {
      schema: { summary: 'Put a failed or cancelled task back in line', tags, params: taskParams, response: { 200: actedSchema, ...errors } },
    },
    async (request) => {
      await assertFlowReach(request.identity, ctx.admin.flows, request.params.queue, request.params.id);
      await ctx.admin.queue(request.params.queue).retry(request.params.id);
      return { id: request.params.id, state: 'waiting' as const };
    },
  );

  app.get(
    '/queues/:queue/tasks/:id/logs',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A task's log",
        description: 'The lines its handlers wrote (context.log), oldest first, each with its time and attempt; `dropped` counts older lines past the log\'s bounds.',
        tags,
        params: taskParams,
        response: { 200: logsSchema, ...errors },
      },
    },
    async (request) => {
      const { queue, id } = request.params;
      return { id, queue, ...(await ctx.admin.queue(queue).logs(id)) };
    },
  );

  app.get(
    '/queues/:queue/tasks/:id/events',
    {
      config: { scope: 'read' },
      schema: {
        summary: "Server-Sent Events of a task's state changes and progress",
        description:
          'Each `state` event carries the task as GET returns it, starting with its current state; a `progress` event carries it when only its ' +
          'progress changed. The stream ends with an `end` event (`reason`: final or removed). Changes closer together than a read may be ' +
          'coalesced; the final state is always sent.',
        tags,
        params: taskParams,
        produces: 'text/event-stream',
        response: { 200: z.string(), ...errors },
      },
    },
    async (request, reply) => {
      const { queue: name, id } = request.params;
      // A watch subscribes (to a channel this gateway may not listen to yet), which waits for
      // Redis rather than failing: ask Redis first, failing fast, as the channel routes do.
      await ctx.admin.ping();
      const stop = new AbortController();
      const watch = ctx.admin.queue(name).watchTask(id, { signal: stop.signal });
      let next = await watch.next(); // a missing task is answered as JSON, before the stream opens
      const stream = openEventStream(reply, { heartbeatMs: ctx.options.heartbeatMs, closing: ctx.closing, limits: ctx.limits });
      stream.signal.addEventListener('abort', () => stop.abort());
      let last: TaskInfo | undefined;
      try {
        while (!next.done) {
          stream.send(last?.state === next.value.state ? 'progress' : 'state', next.value);
          last = next.value;
          next = await watch.next();
        }
        if (!stop.signal.aborted) {
          stream.send('end', { reason: last && FINAL_STATES.includes(last.state) ? 'final' : 'removed' });
        }
      } catch (error) {
        // The stream is open: the error travels as an event, then the stream ends.
        const mapped = toErrandError(error, ctx.options.bodyLimitBytes);
        if (mapped.code === 'INTERNAL') request.log.error({ err: error }, 'task event stream failed');
        stream.send('error', errorBody(mapped));
      } finally {
        stream.end();
      }
    },
  );
};
