/** GET /metrics: Prometheus text exposition (see src/metrics/errand-metrics.ts and ../metrics.ts for what each series measures). */
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
        description: 'Queue and topic state read from Redis; task latency and HTTP histograms observed by this gateway; Node process metrics.',
        tags: ['health'],
        produces: 'text/plain; version=0.0.4',
        response: { 200: z.string(), 503: errorSchema },
      },
    },
    async (_request, reply) => {
      const text = await ctx.metrics.metrics();
      return reply.type(ctx.metrics.contentType).serializer((data: unknown) => String(data)).send(text);
    },
  );
};
