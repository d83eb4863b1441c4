import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { useRedis, useScope } from './support/fixtures.js';
import { NAME_PATTERN } from '../src/config.js';
import { call, useGatewayIn } from './support/gateway.js';

const redis = useRedis();
const scope = useScope(redis);

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { parameters: { name: string; in: string; required: boolean }[]; requestBody?: any; responses: Record<string, any>; security?: unknown[] }>>;
  components: { schemas: Record<string, any> };
  security?: unknown[];
};

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: 'doc-token' });
    const reply = await call(gw, 'GET', '/openapi.json', undefined, { authorization: 'Bearer doc-token' });
    expect(reply.status).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(reply.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // Every $ref points at a schema the document holds.
    for (const [, name] of JSON.stringify(reply.body).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      expect(Object.keys(reply.body.components.schemas)).toContain(name);
    }
  });

  it('lists every route with the checks its schemas make', async () => {
    const s = scope();
    const gw = await useGatewayIn(s, redis, { token: 'doc-token' });
    const doc = (await call(gw, 'GET', '/openapi.json', undefined, { authorization: 'Bearer doc-token' })).body as Doc;
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /v1/queues',
        'GET /v1/queues/{queue}',
        'POST /v1/queues/{queue}/pause',
        'POST /v1/queues/{queue}/resume',
        'GET /v1/queues/{queue}/settings',
        'PATCH /v1/queues/{queue}/settings',
        'GET /v1/queues/{queue}/groups',
        'PATCH /v1/queues/{queue}/groups/{group}/settings',
        'POST /v1/queues/{queue}/groups/{group}/pause',
        'POST /v1/queues/{queue}/groups/{group}/resume',
        'GET /v1/queues/{queue}/schedules',
        'GET /v1/queues/{queue}/schedules/{id}',
        'PUT /v1/queues/{queue}/schedules/{id}',
        'DELETE /v1/queues/{queue}/schedules/{id}',
        'POST /v1/queues/{queue}/schedules/{id}/pause',
        'POST /v1/queues/{queue}/schedules/{id}/resume',
        'POST /v1/queues/{queue}/schedules/{id}/run',
        'POST /v1/queues/{queue}/tasks',
        'POST /v1/queues/{queue}/tasks/batch',
        'GET /v1/queues/{queue}/tasks',
        'GET /v1/queues/{queue}/tasks/{id}',
        'DELETE /v1/queues/{queue}/tasks/{id}',
        'POST /v1/queues/{queue}/tasks/{id}/retry',
        'GET /v1/queues/{queue}/tasks/{id}/logs',
        'GET /v1/queues/{queue}/tasks/{id}/events',
        'POST /v1/flows',
        'POST /v1/flows/chain',
        'GET /v1/flows/{queue}/{id}',
        'POST /v1/channels/{channel}/messages',
        'GET /v1/channels/{channel}/events',
        'POST /v1/topics/{topic}/messages',
        'POST /v1/topics/{topic}/messages/batch',
        'GET /v1/topics',
        'GET /v1/topics/{topic}',
        'GET /v1/topics/{topic}/dead-letters',
        'GET /v1/topics/{topic}/events',
      ].sort(),
    );
    const enqueue = doc.paths['/v1/queues/{queue}/tasks']!.post!;
    expect(enqueue.parameters).toEqual([
      expect.objectContaining({ name: 'queue', in: 'path', required: true, schema: expect.objectContaining({ pattern: NAME_PATTERN.source }) }),
      expect.objectContaining({ name: 'wait', in: 'query', required: false }),
    ]);
    const body = enqueue.requestBody.content['application/json'].schema;
    expect(body).toMatchObject({ type: 'object', required: ['payload'], additionalProperties: false });
    expect(body.properties.priority).toMatchObject({ type: 'integer', minimum: -1_000_000, maximum: 1_000_000 });
    expect(Object.keys(enqueue.responses).sort()).toEqual(['200', '201', '400', '401', '404', '409', '413', '503']);
    expect(doc.paths['/v1/queues/{queue}/tasks/{id}/events']!.get!.responses['200'].content).toHaveProperty(['text/event-stream']);
    expect(doc.components.schemas).toHaveProperty('Task');
    const topicEvents = doc.paths['/v1/topics/{topic}/events']!.get!;
    expect(topicEvents.responses['200'].content).toHaveProperty(['text/event-stream']);
    expect(topicEvents.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['topic', 'path', true],
      ['group', 'query', true],
      ['from', 'query', false],
      ['leaseMs', 'query', false],
      ['prefetch', 'query', false],
    ]);
    const publish = doc.paths['/v1/channels/{channel}/messages']!.post!;
    expect(publish.parameters.map((p) => [p.name, p.in])).toEqual([['channel', 'path'], ['raw', 'query']]);
    expect(publish.requestBody.content['application/json'].schema).toMatchObject({ required: ['message'], additionalProperties: false });
    expect(doc.components.schemas).toHaveProperty('TopicInfo');
    // A flow's tree is recursive: its nodes' children refer to the node's own schema.
    expect(doc.paths['/v1/flows']!.post!.requestBody.content['application/json'].schema).toMatchObject({ $ref: '#/components/schemas/FlowNode' });
    // Children are FlowNodes, said in words: checked without a recursive schema (see routes/flows.ts).
    expect(doc.components.schemas.FlowNode.properties.children.description).toMatch(/each a FlowNode.*1,000 levels/);
    // With a token, everything but the health probes asks for it.
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
  });
});
