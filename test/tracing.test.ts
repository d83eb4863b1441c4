/**
 * Tracing with OpenTelemetry's SDK and its in-memory exporter, against a real Redis: one
 * trace from `POST /v1/queues/q/tasks` (continuing the caller's `traceparent`) through the
 * gateway's request span to the worker's `process q` span, a child of the request's
 * context and linked to it, with the task's attributes and outcome; a topic message's
 * consumer span in its publisher's trace; and nothing recorded for work enqueued outside
 * any span. The SDK is registered before the gateway is built, as an application would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Topic } from '../src/index.js';
import { TASK_FIELDS } from '../src/redis/keys.js';
import { next, useRedis, useScope } from './support/fixtures.js';
import { call, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  provider.register();
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

function spansOf(traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
}

describe('tracing', () => {
  it('follows one trace from POST /v1/queues/q/tasks to the worker that ran the task', async () => {
    const s = scope();
    const gateway = await useGatewayIn(s, redis);
    const posted = await call(gateway, 'POST', '/v1/queues/q/tasks', { payload: { n: 2 } }, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` });
    expect(posted.status).toBe(201);
    const worker = s.worker<{ n: number }, number>('q', async (task) => task.payload.n * 2);
    await next(worker, 'completed');

    const spans = spansOf(CALLER_TRACE);
    const request = spans.find((span) => span.kind === SpanKind.SERVER);
    expect(request, `spans of the trace: ${spans.map((span) => span.name).join(', ')}`).toBeDefined();
    expect(request!.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(request!.attributes['http.route']).toBe('/v1/queues/:queue/tasks');

    const process = spans.find((span) => span.name === 'process q');
    expect(process).toBeDefined();
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    // Its parent is the span that was current when the gateway enqueued: one of the request's.
    const gatewaySpans = new Set(spans.filter((span) => span !== process).map((span) => span.spanContext().spanId));
    expect(gatewaySpans.has(process!.parentSpanContext!.spanId)).toBe(true);
    expect(process!.links.map((link) => link.context.spanId)).toEqual([process!.parentSpanContext!.spanId]);
    expect(process!.attributes).toMatchObject({
      'errand.queue': 'q',
      'errand.task.id': posted.body.id,
      'errand.task.attempt': 1,
      'errand.outcome': 'completed',
      'messaging.destination.name': 'q',
    });
  });

  it('records a failed attempt on its span', async () => {
    const s = scope();
    const queue = s.queue<null>('fails');
    const tracer = trace.getTracer('test');
    const traceId = await tracer.startActiveSpan('producer', async (span) => {
      await queue.enqueue(null, { attempts: 1 });
      span.end();
      return span.spanContext().traceId;
    });
    const worker = s.worker<null>('fails', async () => {
      throw new Error('handler failed');
    });
    await next(worker, 'failed');
    const process = spansOf(traceId).find((span) => span.name === 'process fails')!;
    expect(process.attributes['errand.outcome']).toBe('failed');
    expect(process.status).toMatchObject({ code: 2, message: 'Error: handler failed' });
    expect(process.events.map((event) => event.name)).toEqual(['exception']);
  });

  it("puts a topic subscriber's span in its publisher's trace", async () => {
    const s = scope();
    const topic = s.add(new Topic<{ n: number }>('news', { connection: redis.url, prefix: s.prefix }));
    const received = new Promise<string>((resolve) => {
      s.add(topic.subscribe('readers', async () => resolve(trace.getActiveSpan()?.spanContext().traceId ?? 'none'), { from: 'earliest' }));
    });
    const traceId = await trace.getTracer('test').startActiveSpan('publisher', async (span) => {
      await topic.publish({ n: 1 });
      span.end();
      return span.spanContext().traceId;
    });
    // The handler ran inside the consumer span, in the publisher's trace.
    expect(await received).toBe(traceId);
  });

  it('records no trace context for work enqueued outside any span', async () => {
    const s = scope();
    const queue = s.queue<null>('untraced');
    const task = await queue.enqueue(null);
    expect(await s.client().hexists(queue.keys.task(task.id), TASK_FIELDS.traceparent)).toBe(0);
  });
});
