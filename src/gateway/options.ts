/**
 * The gateway's options: one schema with defaults, units in the names, unknown options
 * rejected. Environment variables are read by the CLI (serve, dev), never here, so a
 * gateway built in a test or a benchmark gets exactly the options it was given.
 */
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { connectionSchema, parseOptions, prefixSchema } from '../config.js';

const MiB = 1024 * 1024;

const loggerSchema = z.custom<FastifyBaseLogger>(
  (value) => typeof value === 'object' && value !== null && typeof (value as { info?: unknown }).info === 'function',
  'a pino logger',
);

const gatewayOptionsSchema = z
  .object({
    /** Where Redis is (URL, ioredis options or client). Default: REDIS_URL, else 127.0.0.1:6379. */
    connection: connectionSchema.optional(),
    /** Key prefix of the queues served. Default 'errand'. */
    prefix: prefixSchema.optional(),
    /** Bearer token every request except /healthz and /readyz must carry. Default: none (loopback only). */
    token: z.string().min(1).optional(),
    /** Address `startGateway` listens on. Default 127.0.0.1. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Port `startGateway` listens on; 0 picks a free one. Default 8080. */
    port: z.number().int().min(0).max(65_535).default(8080),
    /** Largest request body; larger ones get 413 before Redis is touched. Default 1 MiB. */
    bodyLimitBytes: z.number().int().min(1).max(512 * MiB).default(MiB),
    /** A Redis command unanswered this long (or sent while disconnected) fails the request with 503. Default 900. */
    redisTimeoutMs: z.number().int().min(10).max(60_000).default(900),
    /** Comment lines keep idle event streams open through proxies. Default 15 s. */
    heartbeatMs: z.number().int().min(100).max(3_600_000).default(15_000),
    /** Serve the dashboard at / (its API under /ui). Default true. */
    dashboard: z.boolean().default(true),
    /** Serve the demo: the /demo/prodcons and /demo/pubsub links, and the dashboard's demo page. Default false. */
    demo: z.boolean().default(false),
    /** A pino logger, true for Fastify's default, false for none. Default false. */
    logger: z.union([z.boolean(), loggerSchema]).default(false),
  })
  .strict();

export type GatewayOptions = z.input<typeof gatewayOptionsSchema>;
export type ResolvedGatewayOptions = Readonly<z.output<typeof gatewayOptionsSchema>>;

export function resolveGatewayOptions(input: GatewayOptions | undefined): ResolvedGatewayOptions {
  return Object.freeze(parseOptions('gateway options', gatewayOptionsSchema, input));
}
