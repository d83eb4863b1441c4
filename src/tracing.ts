/**
 * OpenTelemetry tracing, when the application has it. `@opentelemetry/api` is an optional
 * peer dependency, loaded once with a dynamic import: without it (or without an SDK that
 * records spans) every function here does nothing, and nothing else changes.
 *
 * Responsible for: the caller's trace context as a W3C `traceparent` (recorded with an
 * enqueued task, a topic message), a span around a worker's attempt (`process <queue>`,
 * a child of the producer's context and linked to it, with the queue, task id, attempt and
 * outcome), and a span around a subscriber's handling of a topic message. The gateway's
 * routes are spanned by the Fastify instrumentation (gateway/tracing.ts).
 *
 * No type of the API appears in an exported signature: the package's declarations must not
 * need it.
 */
import { readFileSync } from 'node:fs';

type Api = typeof import('@opentelemetry/api');
type OtelSpan = import('@opentelemetry/api').Span;
type OtelContext = import('@opentelemetry/api').Context;

/** undefined: not tried yet; null: not installed. */
let api: Api | null | undefined;
let loading: Promise<void> | undefined;
let tracer: import('@opentelemetry/api').Tracer | undefined;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function version(): string {
  try {
    // src/tracing.ts and dist/tracing.js both sit one level below package.json.
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Loads the API if it is installed (once; later calls share the first). */
export function loadTracing(): Promise<void> {
  loading ??= import('@opentelemetry/api').then(
    (module) => {
      api = module;
      tracer = module.trace.getTracer('errand', version());
    },
    () => {
      api = null; // not installed: tracing stays off
    },
  );
  return loading;
}

/** Whether loadTracing() has settled (so the current context can be read synchronously). */
export function tracingSettled(): boolean {
  return api !== undefined;
}

/** The active span's context as a W3C traceparent, or '' when there is none (or no API). */
export function currentTraceparent(): string {
  if (!api) return '';
  const span = api.trace.getSpan(api.context.active());
  const context = span?.spanContext();
  if (!context || !api.trace.isSpanContextValid(context)) return '';
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 1) === 1 ? '01' : '00'}`;
}

/**
 * Whether an SDK is registered: without one the API's spans record nothing, and a worker
 * should not pay for making them per task. A cheap check (a global read), made per span,
 * so an SDK registered later is seen.
 */
function recording(a: Api): boolean {
  const delegate = (a.trace.getTracerProvider() as { getDelegate?: () => object }).getDelegate?.();
  return delegate !== undefined && delegate.constructor.name !== 'NoopTracerProvider';
}

/** Whether spans are recorded now: the API is loaded and an SDK registered. */
export function tracingRecording(): boolean {
  return !!api && recording(api);
}

/** A span of Errand's around one unit of work; `run` calls a function inside it. */
export interface WorkSpan {
  run<T>(fn: () => T): T;
  /** Ends it with the outcome (an attribute), and the error when there is one. */
  end(outcome: string, error?: Error): void;
}

/** The remote context a traceparent names, as the parent of the span to start. */
function parentOf(a: Api, traceparent: string): { context: OtelContext; link: import('@opentelemetry/api').SpanContext } | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (!match) return undefined;
  const link = { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16) & 1, isRemote: true };
  if (!a.trace.isSpanContextValid(link)) return undefined;
  return { context: a.trace.setSpanContext(a.ROOT_CONTEXT, link), link };
}

function workSpan(a: Api, span: OtelSpan, context: OtelContext): WorkSpan {
  const inner = a.trace.setSpan(context, span);
  return {
    run: (fn) => a.context.with(inner, fn),
    end(outcome, error) {
      span.setAttribute('errand.outcome', outcome);
      if (error) {
        span.recordException(error);
        span.setStatus({ code: a.SpanStatusCode.ERROR, message: `${error.name}: ${error.message}` });
      }
      span.end();
    },
  };
}

/**
 * Starts `process <queue>` for one attempt of a task: a consumer span whose parent is the
 * producer's context (so the trace runs on from the enqueue), with a link to it as well.
 * Undefined when tracing is off.
 */
export function startProcessSpan(queue: string, task: { id: string; attempt: number }, traceparent: string): WorkSpan | undefined {
  if (!api || !tracer || !recording(api)) return undefined;
  const parent = traceparent ? parentOf(api, traceparent) : undefined;
  const context = parent?.context ?? api.ROOT_CONTEXT;
  const span = tracer.startSpan(
    `process ${queue}`,
    {
      kind: api.SpanKind.CONSUMER,
      links: parent ? [{ context: parent.link }] : [],
      attributes: {
        'messaging.system': 'errand',
        'messaging.operation.type': 'process',
        'messaging.destination.name': queue,
        'messaging.message.id': task.id,
        'errand.queue': queue,
        'errand.task.id': task.id,
        'errand.task.attempt': task.attempt,
      },
    },
    context,
  );
  return workSpan(api, span, context);
}

/** Starts `consume <topic>` for one delivery of a topic message (see startProcessSpan). */
export function startConsumeSpan(topic: string, group: string, message: { id: string; attempt: number }, traceparent: string): WorkSpan | undefined {
  if (!api || !tracer || !recording(api)) return undefined;
  const parent = traceparent ? parentOf(api, traceparent) : undefined;
  const context = parent?.context ?? api.ROOT_CONTEXT;
  const span = tracer.startSpan(
    `consume ${topic}`,
    {
      kind: api.SpanKind.CONSUMER,
      links: parent ? [{ context: parent.link }] : [],
      attributes: {
        'messaging.system': 'errand',
        'messaging.operation.type': 'process',
        'messaging.destination.name': topic,
        'messaging.consumer.group.name': group,
        'messaging.message.id': message.id,
        'errand.attempt': message.attempt,
      },
    },
    context,
  );
  return workSpan(api, span, context);
}
