/**
 * The UI's event streams under /ui/api/streams, which keep the views live without reloads:
 * the overview, one queue, the workers, the schedules, and the topics and channels (each a `snapshot`
 * event whenever what it shows changed, read by the shared feeds of feeds.ts), and one task (a `task` event each time
 * it is seen in a new state or with new progress, `logs` events with its log lines from the
 * first on as they are written, then `end`). A failed read arrives as a `problem` event with
 * the error body ({ error: { code, message } }); snapshot streams stay open and recover.
 * A stream opened with a session cookie checks at each heartbeat that the session still
 * stands: once it was logged out (on any gateway), the stream ends with a `problem` event
 * saying UNAUTHORIZED.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TaskNotFoundError } from '../errors.js';
import { FINAL_STATES } from '../queue/states.js';
import type { GatewayContext } from '../gateway/context.js';
import { UnauthorizedError } from '../errors.js';
import { errorBody, toErrandError } from '../gateway/errors.js';
import type { EventStream } from '../gateway/sse.js';
import { queueParams, taskParams, type ZodTypeProvider } from '../gateway/schema.js';
import { openEventStream } from '../gateway/sse.js';
import type { FeedHub } from './feeds.js';
import { API_BASE } from './shared.js';
import { broadcastSnapshot, overviewSnapshot, queueSnapshot, schedulesSnapshot, workersSnapshot } from './snapshots.js';

export const streamRoutes =
  (ctx: GatewayContext, feeds: FeedHub): FastifyPluginAsync =>
  async (instance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();
    const config = { session: 'api' as const, scope: 'read' as const };
    const base = `${API_BASE}/streams`;

    const problem = (request: FastifyRequest, error: unknown) => {
      const mapped = toErrandError(error, ctx.options.bodyLimitBytes);
      if (mapped.code === 'INTERNAL') request.log.error({ err: error }, 'dashboard stream read failed');
      return errorBody(mapped);
    };

    /** Ends a session's stream once the session was logged out (checked every heartbeat). */
    const endWithSession = (request: FastifyRequest, stream: EventStream) => {
      const session = request.dashboardSession;
      if (!session) return; // a bearer token: it stands as long as the gateway's tokens
      const timer = setInterval(() => {
        ctx.admin.auth.sessionGeneration(session.identity.name).then(
          (generation) => {
            if (generation === session.generation) return;
            stream.send('problem', errorBody(new UnauthorizedError()));
            stream.end();
          },
          () => {}, // Redis away: the next beat asks again
        );
      }, ctx.options.heartbeatMs);
      timer.unref();
      stream.signal.addEventListener('abort', () => clearInterval(timer));
    };

    /** Streams the feed `key` until the browser goes away or the gateway closes. */
    const serveFeed = <T>(request: FastifyRequest, reply: FastifyReply, key: string, load: () => Promise<T>) => {
      const stream = openEventStream(reply, { heartbeatMs: ctx.options.heartbeatMs, closing: ctx.closing, limits: ctx.limits });
      endWithSession(request, stream);
      const unsubscribe = feeds.subscribe<T>(key, load, (event) => {
        if (event.kind === 'snapshot') stream.send('snapshot', event.data);
        else stream.send('problem', problem(request, event.error));
      });
      stream.signal.addEventListener('abort', unsubscribe);
    };

    app.get(`${base}/overview`, { config }, async (request, reply) => {
      serveFeed(request, reply, 'overview', () => overviewSnapshot(ctx.admin));
    });

    app.get(`${base}/workers`, { config }, async (request, reply) => {
      serveFeed(request, reply, 'workers', () => workersSnapshot(ctx.admin));
    });

    app.get(`${base}/schedules`, { config }, async (request, reply) => {
      serveFeed(request, reply, 'schedules', () => schedulesSnapshot(ctx.admin));
    });

    app.get(`${base}/broadcast`, { config }, async (request, reply) => {
      serveFeed(request, reply, 'broadcast', () => broadcastSnapshot(ctx.admin));
    });

    app.get(`${base}/queues/:queue`, { config, schema: { hide: true, params: queueParams } }, async (request, reply) => {
      const { queue } = request.params;
      serveFeed(request, reply, `queue:${queue}`, () => queueSnapshot(ctx.admin, queue));
    });

    app.get(`${base}/queues/:queue/tasks/:id`, { config, schema: { hide: true, params: taskParams } }, async (request, reply) => {
      const { queue, id } = request.params;
      const stop = new AbortController();
      const watch = ctx.admin.queue(queue).watchTask(id, { signal: stop.signal });
      let next = await watch.next(); // a missing task is answered as JSON (404), before the stream opens
      const stream = openEventStream(reply, { heartbeatMs: ctx.options.heartbeatMs, closing: ctx.closing, limits: ctx.limits });
      endWithSession(request, stream);
      stream.signal.addEventListener('abort', () => stop.abort());
      let final = false;
      // The log from its first line, as it grows; the stream ends once both are done.
      const logs = (async () => {
        for await (const batch of ctx.admin.queue(queue).followLogs(id, { signal: stop.signal })) stream.send('logs', batch);
      })();
      try {
        while (!next.done) {
          stream.send('task', next.value);
          final = FINAL_STATES.includes(next.value.state);
          next = await watch.next();
        }
        await logs.catch((error: unknown) => {
          // Removed between the two reads: the watch says so; anything else is a problem.
          if (!(error instanceof TaskNotFoundError)) throw error;
        });
        if (!stop.signal.aborted) stream.send('end', { reason: final ? 'final' : 'removed' });
      } catch (error) {
        stream.send('problem', problem(request, error)); // the stream is open: the error travels as an event
      } finally {
        stop.abort();
        await logs.catch(() => {}); // its error, if any, was sent above
        stream.end();
      }
    });
  };
