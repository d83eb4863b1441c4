/**
 * Zod at the HTTP boundary: a Fastify type provider (routes get typed params, query and
 * body from their schemas), the validator compiler that runs those schemas and turns
 * every problem into one ValidationError (zod-fast-path.ts skips zod for inputs it is sure
 * of), and the schemas shared by several routes. The
 * same schemas produce /openapi.json (openapi.ts), so the docs cannot drift from the checks.
 */
import type { FastifyInstance, FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import { z } from 'zod';
import { formatIssues, NAME_PATTERN, TASK_ID_PATTERN, taskOptionsShape } from '../config.js';
import { ValidationError } from '../errors.js';
import { fastPath } from './zod-fast-path.js';

export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

// Route documentation carried in the route's schema, read by openapi.ts.
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    /** Media type of the 200 answer when it is not JSON (SSE, Prometheus text, HTML). */
    produces?: string;
    /** Left out of /openapi.json (the dashboard's own routes). */
    hide?: boolean;
  }
  interface FastifyContextConfig {
    /** Served without the bearer token (health probes, the login form, the dashboard's static files). */
    public?: boolean;
    /** A health probe: answered whatever the Host (orchestrators address pods by any name). */
    probe?: boolean;
  }
}

/** Zod's default words for an absent field ("expected nonoptional") become plain "required". */
const missingIsRequired = (issue: { code?: string; input?: unknown }) =>
  issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined;

const PARTS: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'headers' };

/** Installs zod validation (and plain JSON serialization) on an app. */
export function useZod(app: FastifyInstance): void {
  const compiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
    const where = PARTS[httpPart ?? ''] ?? httpPart ?? 'request';
    const fast = fastPath(schema);
    return (data: unknown) => {
      const accepted = fast?.accept(data);
      if (accepted !== undefined) return { value: accepted };
      const parsed = schema.safeParse(data, { error: missingIsRequired });
      if (parsed.success) {
        fast?.remember(data, parsed.data);
        return { value: parsed.data };
      }
      return { error: new ValidationError(`invalid request ${where}: ${formatIssues(parsed.error.issues)}`) };
    };
  };
  app.setValidatorCompiler(compiler);
  // Answers are built by our handlers from typed values; response schemas only document.
  app.setSerializerCompiler(() => (data: unknown) => JSON.stringify(data));
}

// ---- Shared pieces ------------------------------------------------------------------------

export const NAME_HINT = 'use 1-128 characters from A-Z a-z 0-9 . _ -';

export const nameSchema = (kind: string) =>
  z.string().regex(NAME_PATTERN, `invalid ${kind} name: ${NAME_HINT}`).meta({ description: `${kind} name (${NAME_HINT})` });

export const taskIdSchema = z
  .string()
  .regex(TASK_ID_PATTERN, 'invalid task id: use 1-128 characters from A-Z a-z 0-9 . _ : - (a generated id may end with its partition mark, ~3)')
  .meta({ description: 'task id' });

export const queueParams = z.object({ queue: nameSchema('queue') }).strict();
export const taskParams = z.object({ queue: nameSchema('queue'), id: taskIdSchema }).strict();

/** The longest `?wait` a request may hold: five minutes. */
export const MAX_WAIT_MS = 300_000;

export const waitQuery = z
  .object({
    // Digits only: an empty ?wait= is a mistake, not "wait 0 ms".
    wait: z
      .string()
      .regex(/^\d{1,9}$/, 'a whole number of ms, e.g. wait=5000')
      .transform(Number)
      .pipe(z.number().max(MAX_WAIT_MS))
      .optional()
      .meta({ description: `hold the request up to this many ms (at most ${MAX_WAIT_MS}) until the task is final` }),
  })
  .strict();

/** Task options as JSON: `runAt` is epoch ms or an ISO 8601 date-time. */
export const taskFields = {
  delayMs: taskOptionsShape.delayMs.meta({ description: 'start no earlier than this many ms from now' }),
  runAt: z
    .union([z.number().int().min(0), z.iso.datetime({ offset: true })])
    .optional()
    .meta({ description: 'start no earlier than this time: epoch ms or ISO 8601 date-time' }),
  priority: taskOptionsShape.priority.meta({ description: 'higher runs first; integer in ±1,000,000 (default 0)' }),
  attempts: taskOptionsShape.attempts.meta({ description: 'total runs allowed, the first included (default 3)' }),
  backoff: taskOptionsShape.backoff.meta({ description: 'wait between attempts (default exponential from 1 s)' }),
  timeoutMs: taskOptionsShape.timeoutMs.meta({ description: "abort the handler's signal after this many ms" }),
  dedupeKey: taskOptionsShape.dedupeKey.meta({ description: 'while a task with this key is unfinished, return it instead' }),
  id: taskIdSchema.optional().meta({ description: 'caller-chosen id (not all digits); an existing id returns that task' }),
  group: taskOptionsShape.group.meta({ description: "the task's group (a tenant): claims rotate over groups, each may have its own limits" }),
};

export const newTaskSchema = z
  .object({ payload: z.unknown().meta({ description: 'any JSON value, handed to the worker' }), ...taskFields })
  .strict();
export type NewTask = z.output<typeof newTaskSchema>;

/** Turns a request's task into the library's enqueue item. */
export function toEnqueueItem({ runAt, ...rest }: NewTask) {
  return { ...rest, ...(runAt === undefined ? {} : { runAt: typeof runAt === 'number' ? runAt : Date.parse(runAt) }) };
}

export const errorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .meta({ id: 'Error', description: 'every error answer' });
