/**
 * Probes for load balancers and orchestrators, served without the token: /healthz says the
 * process answers; /readyz says Redis answers too, with a safe eviction policy (503 while not).
 */
import { z } from 'zod';
import type { RoutePlugin } from '../context.js';
import { errorSchema, type ZodTypeProvider } from '../schema.js';

const statusSchema = z.object({ status: z.string() });

export const healthRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/healthz',
    {
      config: { public: true, probe: true },
      schema: { summary: 'The process is up', tags: ['health'], response: { 200: statusSchema } },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true, probe: true },
      schema: { summary: 'Redis answers (503 otherwise)', tags: ['health'], response: { 200: statusSchema, 503: errorSchema } },
    },
    async () => {
      await ctx.admin.ping();
      await ctx.admin.assertRedisSafe(); // an evicting Redis is not ready to hold tasks
      return { status: 'ready' };
    },
  );
};
