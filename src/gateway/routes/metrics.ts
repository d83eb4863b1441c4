/** GET /metrics: Prometheus text exposition (see ../metrics.ts for what each series measures). */
import { z } from 'zod';
import type { RoutePlugin } from '../context.js';
import { errorSchema, type ZodTypeProvider } from '../schema.js';

export const metricsRoutes: RoutePlugin = (ctx) => async (instance) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/metrics',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Prometheus metrics',
        description: 'Queue sizes and lifetime counters read from Redis; task latency and HTTP histograms observed by this gateway.',
        tags: ['health'],
        produces: 'text/plain; version=0.0.4',
        response: { 200: z.string(), 503: errorSchema },
      },
    },
    async (_request, reply) => {
      const text = await ctx.metrics.render();
      return reply.type('text/plain; version=0.0.4; charset=utf-8').serializer((data: unknown) => String(data)).send(text);
    },
  );
};
