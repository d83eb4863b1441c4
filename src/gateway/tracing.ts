/**
 * Spans for the gateway's routes, when the application traces: with `@opentelemetry/api`
 * and `@fastify/otel` (Fastify's own OpenTelemetry instrumentation, for Fastify 5) both
 * installed and an SDK registered before the gateway is built, every request gets a span
 * (its route, method and status), continuing the caller's trace from its `traceparent`
 * header. Enqueues made while serving it record that context with their tasks, so a
 * worker's `process <queue>` span joins the trace. Otherwise nothing is registered, and
 * requests cost what they did.
 */
import type { FastifyInstance } from 'fastify';
import { loadTracing, tracingRecording } from '../tracing.js';

interface FastifyOtel {
  FastifyOtelInstrumentation: new (config?: Record<string, unknown>) => { plugin(): Parameters<FastifyInstance['register']>[0] };
}

/** Registers the instrumentation on the app (before its routes); says whether it did. */
export async function registerTracing(app: FastifyInstance, version: string): Promise<boolean> {
  await loadTracing();
  if (!tracingRecording()) return false;
  let module: FastifyOtel;
  try {
    module = (await import('@fastify/otel')) as unknown as FastifyOtel;
  } catch {
    return false; // not installed: requests are not spanned (enqueues still carry the caller's context)
  }
  const instrumentation = new module.FastifyOtelInstrumentation({ servername: 'errand-gateway', version });
  await app.register(instrumentation.plugin());
  return true;
}
