/**
 * What every route plugin is given: the admin layer (the faces' only way to Redis), the
 * resolved options, the metrics, and a signal aborted when the gateway starts closing
 * (event streams end on it). A route plugin is `(ctx) => FastifyPluginAsync`, registered
 * by app.ts; the broadcast routes (channels.ts, topics.ts) join the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, RawServerDefault } from 'fastify';
import type { Admin } from '../admin/admin.js';
import type { GatewayMetrics } from './metrics.js';
import type { ResolvedGatewayOptions } from './options.js';
import type { StreamLimits } from './stream-limits.js';
import type { ZodTypeProvider } from './schema.js';

export interface GatewayContext {
  readonly admin: Admin;
  readonly options: ResolvedGatewayOptions;
  readonly metrics: GatewayMetrics;
  /** Aborted when the gateway begins to close. */
  readonly closing: AbortSignal;
  /** Bounds on event streams: topic stream slots, the budget of unsent bytes. */
  readonly limits: StreamLimits;
}

export type GatewayApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export type RoutePlugin = (ctx: GatewayContext) => FastifyPluginAsync;
