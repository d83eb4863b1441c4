/**
 * Builds the gateway: a Fastify app from resolved options, with zod validation, one error
 * shape, the guards every request passes (browser-guard.ts without a token, the eviction
 * policy of Redis, auth with scoped tokens and the limit on guessing), metrics and OpenAPI,
 * tracing when OpenTelemetry is installed, the route plugins and the dashboard. `buildGateway` is for
 * in-process use (tests inject requests; the benchmark and `npm start` listen through
 * `startGateway`). Closing the gateway ends its event streams, then its Redis connections.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { pino } from 'pino';
import { Admin } from '../admin/admin.js';
import { dashboardRoutes } from '../dashboard/plugin.js';
import { SessionKeys } from './session.js';
import { redactError } from '../redis/redact.js';
import { installAuthLimiter } from './auth-limit.js';
import { assertSafeListen, installAuth, TokenTable } from './auth.js';
import { installBrowserGuard } from './browser-guard.js';
import type { GatewayContext, RoutePlugin } from './context.js';
import { demoRoutes } from './demo.js';
import { answerClientError, errorBody, installErrorHandlers, toErrandError } from './errors.js';
import { GatewayMetrics } from './metrics.js';
import { collectRoutes, openApiRoutes } from './openapi.js';
import { resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from './options.js';
import { channelRoutes } from './routes/channels.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { queueRoutes } from './routes/queues.js';
import { scheduleRoutes } from './routes/schedules.js';
import { settingsRoutes } from './routes/settings.js';
import { taskRoutes } from './routes/tasks.js';
import { flowRoutes } from './routes/flows.js';
import { topicRoutes } from './routes/topics.js';
import { installRedisGuard, refuseUnsafeRedis } from './redis-guard.js';
import { collectAccess, knownTokens, type RouteAccess } from './scopes.js';
import { useZod } from './schema.js';
import { StreamLimits } from './stream-limits.js';
import { installTransportSecurity } from './transport.js';
import { registerTracing } from './tracing.js';

/** The routes under /v1, each a plugin of its own. */
const API_ROUTES: RoutePlugin[] = [queueRoutes, settingsRoutes, scheduleRoutes, taskRoutes, flowRoutes, channelRoutes, topicRoutes];

export interface Gateway {
  readonly app: FastifyInstance;
  readonly admin: Admin;
  readonly options: ResolvedGatewayOptions;
  /** Every route with the scope it needs (scopes.ts). */
  readonly routes: readonly RouteAccess[];
  /** Ends event streams, stops listening, closes Redis connections. Idempotent. */
  close(): Promise<void>;
}

export interface ListeningGateway extends Gateway {
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0'; // running from a copy without its package.json
  }
}

/** Logged errors never carry a Redis command's arguments (a failed AUTH's are the password). */
const serializers = { err: (error: unknown) => pino.stdSerializers.err(redactError(error) as Error) };

export async function buildGateway(input?: GatewayOptions): Promise<Gateway> {
  const options = resolveGatewayOptions(input);
  const { logger } = options;
  const tokens = knownTokens(options.token, options.tokens);
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes,
    ...(logger === false
      ? { logger: false }
      : logger === true
        ? { logger: { serializers } }
        : { loggerInstance: logger.child({}, { serializers }) as FastifyBaseLogger }),
    trustProxy: options.trustProxy,
    // A client gets this long to send its whole request (a body that never ends is cut off).
    requestTimeout: options.requestTimeoutMs,
    // Node checks these only when the server is created with them (headers first, then the whole request).
    http: {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.requestTimeoutMs, 60_000),
      connectionsCheckingInterval: Math.min(1_000, options.requestTimeoutMs),
    },
    // The HTTP server's own refusals (400, 408, 431) in Errand's error shape.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, options.requestTimeoutMs),
    // Event streams stay open until closed by us (preClose); other idle sockets close at once.
    forceCloseConnections: 'idle',
    // Names and ids are checked by the route schemas (at most 128 characters), which say why.
    routerOptions: { maxParamLength: 1024 },
    // Malformed URLs are answered by the router before any hook: give them our error shape.
    frameworkErrors: (error, _request, reply) => {
      const mapped = toErrandError(error, options.bodyLimitBytes);
      void (reply as FastifyReply).status(mapped.httpStatus).send(errorBody(mapped));
    },
    // Errors are logged by the error handler; a line per request would drown the demo's output.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  const admin = new Admin({
    connection: options.connection,
    prefix: options.prefix,
    failFastMs: options.redisTimeoutMs,
    evictionCheck: {
      allow: options.unsafeAllowEviction,
      onUnsafe: (error) => app.log.error(error.message),
    },
  });
  const closing = new AbortController();
  const metrics = new GatewayMetrics(admin);
  const limits = new StreamLimits(options);
  const ctx: GatewayContext = { admin, options, metrics, closing: closing.signal, limits };

  useZod(app);
  await registerTracing(app, packageVersion());
  app.removeContentTypeParser('text/plain'); // bodies are JSON only: others get 415
  // Commands on a connection whose password Redis refused fail as "unavailable": say why.
  installErrorHandlers(app, options.bodyLimitBytes, (error) => (error.code === 'REDIS_UNAVAILABLE' ? (admin.credentialsRefused ?? error) : error));
  installTransportSecurity(app);
  installBrowserGuard(app, { open: tokens.length === 0 });
  installRedisGuard(app, admin);
  const sessions = new SessionKeys(tokens);
  const limiter = await installAuthLimiter(app, ctx);
  const tokenTable = new TokenTable(tokens);
  installAuth(app, ctx, { tokens: tokenTable, sessions, limiter });
  // A callback hook: on every answer, a promise would cost more than the counting.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('preClose', async () => closing.abort());
  app.addHook('onClose', async () => {
    await metrics.close();
    await admin.close();
  });

  const routes = collectRoutes(app);
  const access = collectAccess(app);
  await app.register(healthRoutes(ctx));
  await app.register(metricsRoutes(ctx));
  await app.register(openApiRoutes(routes, packageVersion())(ctx));
  await app.register(
    async (v1) => {
      for (const plugin of API_ROUTES) await v1.register(plugin(ctx));
    },
    { prefix: '/v1' },
  );
  if (options.dashboard) await app.register(dashboardRoutes(sessions, tokenTable, limiter)(ctx));
  if (options.demo) await app.register(demoRoutes(ctx));
  await app.ready();

  let closed: Promise<void> | undefined;
  return { app, admin, options, routes: access, close: () => (closed ??= app.close()) };
}

/** Builds the gateway and listens on options.host:options.port (refusing an open gateway beyond loopback). */
export async function startGateway(input?: GatewayOptions): Promise<ListeningGateway> {
  const options = resolveGatewayOptions(input);
  assertSafeListen(options.host, listenTokens(options));
  const gateway = await buildGateway(input);
  try {
    await refuseUnsafeRedis(gateway.admin);
    await gateway.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await gateway.close();
    throw error;
  }
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { ...gateway, url: `http://${host}:${port}` };
}

/** The tokens a gateway with these options accepts, named (for assertSafeListen). */
export function listenTokens(options: Pick<ResolvedGatewayOptions, 'token' | 'tokens'>): { name: string; token: string }[] {
  return knownTokens(options.token, options.tokens).map(({ token, identity }) => ({ token, name: identity.name }));
}
