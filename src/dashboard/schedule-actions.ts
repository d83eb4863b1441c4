/**
 * The schedules page's actions on one schedule under /ui/api: pause, resume, run now and
 * remove (admin scope; CSRF-checked like every POST by the plugin). Left out of
 * /openapi.json like the rest of /ui/api: scripts use /v1.
 */
import { z } from 'zod';
import { ScheduleNotFoundError } from '../errors.js';
import type { GatewayContext } from '../gateway/context.js';
import { nameSchema, type ZodTypeProvider } from '../gateway/schema.js';
import { SCHEDULE_ID_PATTERN } from '../queue/schedules.js';
import type { FastifyPluginAsync } from 'fastify';
import { API_BASE } from './shared.js';

const scheduleParams = z.object({ queue: nameSchema('queue'), id: z.string().regex(SCHEDULE_ID_PATTERN, 'invalid schedule id') }).strict();

export const scheduleActionRoutes =
  (ctx: GatewayContext): FastifyPluginAsync =>
  async (instance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();
    for (const action of ['pause', 'resume', 'run', 'remove'] as const) {
      app.post(`${API_BASE}/queues/:queue/schedules/:id/${action}`, { config: { session: 'api' }, schema: { hide: true, params: scheduleParams } }, async (request) => {
        const { queue: name, id } = request.params;
        const queue = ctx.admin.queue(name);
        request.log.info({ queue: name, schedule: id, action }, `dashboard: ${action} schedule ${id} of ${name}`);
        if (action === 'run') return { id, taskId: (await queue.runSchedule(id)).id };
        if (action === 'remove') {
          if (!(await queue.unschedule(id))) throw new ScheduleNotFoundError(name, id);
          return { id, removed: true };
        }
        const schedule = action === 'pause' ? await queue.pauseSchedule(id) : await queue.resumeSchedule(id);
        return { id, paused: schedule.paused, nextRunAt: schedule.nextRunAt };
      });
    }
  };
