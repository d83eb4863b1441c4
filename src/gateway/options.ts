/**
 * The gateway's options: one schema with defaults, units in the names, unknown options
 * rejected. Environment variables are read by the CLI (serve, dev), never here, so a
 * gateway built in a test or a benchmark gets exactly the options it was given.
 */
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { connectionSchema, parseOptions, prefixSchema } from '../config.js';
import { scopedTokenSchema } from './scopes.js';

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
    /**
     * More tokens, each with a scope (admin, read, enqueue) and optionally limited to some
     * queues, topics and channels (scopes.ts, docs/http-api.md § Security model). They are
     * held in memory only, never written to Redis. Default: none.
     */
    tokens: z.array(scopedTokenSchema).max(1000).default([]),
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
    /** Longest time a client may take to send a whole request (headers and body); then 408. Default 30 s. */
    requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /**
     * Trust X-Forwarded-For/-Proto/-Host from a TLS proxy in front: true (any sender), or the
     * proxies' addresses ('10.0.0.1,10.0.0.2', CIDR allowed). Then logs and the failed-auth
     * limit see the client's address, and over https the session cookie gets Secure and
     * answers HSTS. Default false.
     */
    trustProxy: z.union([z.boolean(), z.string().min(1)]).default(false),
    /** Failed authentications (401s and failed logins) allowed per client address per window; then 429. Default 10. */
    maxAuthFailures: z.number().int().min(1).max(1_000_000).default(10),
    /** The failed-authentication window, in ms (counted in Redis, so it holds across gateways). Default 60 s. */
    authFailureWindowMs: z.number().int().min(1_000).max(86_400_000).default(60_000),
    /**
     * Topic event streams this gateway serves at once (each holds one Redis connection for
     * its blocking reads); more get 503 with Retry-After. Default 100.
     */
    maxTopicStreams: z.number().int().min(0).max(100_000).default(100),
    /**
     * Bytes all event streams together may hold unsent (clients reading slower than events
     * come); past it the streams holding the most are ended with an `overflow` event. Default 64 MiB.
     */
    maxStreamBufferBytes: z.number().int().min(MiB).max(16 * 1024 * MiB).default(64 * MiB),
    /**
     * Serve even when Redis's maxmemory-policy may evict queue keys (or cannot be read),
     * accepting that tasks may vanish. Default false: such a Redis is refused at start and
     * answered with 503 UNSAFE_EVICTION_POLICY after a reconnect finds it (docs/operations.md).
     */
    unsafeAllowEviction: z.boolean().default(false),
    /** A pino logger, true for Fastify's default, false for none. Default false. */
    logger: z.union([z.boolean(), loggerSchema]).default(false),
  })
  .strict();

export type GatewayOptions = z.input<typeof gatewayOptionsSchema>;
export type ResolvedGatewayOptions = Readonly<z.output<typeof gatewayOptionsSchema>>;

export function resolveGatewayOptions(input: GatewayOptions | undefined): ResolvedGatewayOptions {
  return Object.freeze(parseOptions('gateway options', gatewayOptionsSchema, input));
}
