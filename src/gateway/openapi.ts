/**
 * /openapi.json, generated from the routes' own zod schemas (the ones that validate the
 * requests), so the document cannot drift from the checks. Routes are collected as they
 * are registered (`collectRoutes`), and the document is built once, on first request.
 */
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { z } from 'zod';
import type { RoutePlugin } from './context.js';

type JsonSchema = Record<string, unknown>;

export interface CollectedRoute {
  method: string;
  url: string;
  schema: FastifySchema;
  public: boolean;
}

/** Records every route registered after this call (HEAD twins of GET routes excluded). */
export function collectRoutes(app: FastifyInstance): CollectedRoute[] {
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD' || !route.schema || route.schema.hide) continue;
      routes.push({ method: method.toLowerCase(), url: route.url, schema: route.schema, public: route.config?.public === true });
    }
  });
  return routes;
}

const STATUS_TEXT: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Invalid request (code INVALID_ARGUMENT)',
  401: 'Missing or wrong bearer token (UNAUTHORIZED)',
  404: 'No such task or route (TASK_NOT_FOUND, NOT_FOUND)',
  409: 'The task is not in a state that allows this (INVALID_STATE)',
  413: 'Body or payload over the limit (PAYLOAD_TOO_LARGE)',
  503: 'Redis is unavailable (REDIS_UNAVAILABLE)',
};

/** Turns zod schemas into JSON Schemas whose shared parts (ids) land in `components`. */
class SchemaConverter {
  readonly components: Record<string, JsonSchema> = {};

  convert(schema: unknown, io: 'input' | 'output'): JsonSchema {
    const json = z.toJSONSchema(schema as z.ZodType, { io, unrepresentable: 'any' }) as JsonSchema;
    const { $defs, $schema: _dialect, ...rest } = json as { $defs?: Record<string, JsonSchema>; $schema?: string };
    for (const [id, def] of Object.entries($defs ?? {})) this.components[id] = relink(def) as JsonSchema;
    return relink(rest) as JsonSchema;
  }
}

function relink(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(relink);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      key === '$ref' && typeof item === 'string' ? item.replace('#/$defs/', '#/components/schemas/') : relink(item),
    ]),
  );
}

function parameters(converter: SchemaConverter, schema: unknown, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = converter.convert(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

export function buildOpenApi(routes: readonly CollectedRoute[], { version, secured }: { version: string; secured: boolean }): JsonSchema {
  const converter = new SchemaConverter();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const schema = route.schema;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: Record<string, JsonSchema> = {};
    for (const [status, response] of Object.entries((schema.response ?? {}) as Record<string, unknown>)) {
      const type = status === '200' && schema.produces ? schema.produces : 'application/json';
      responses[status] = {
        description: STATUS_TEXT[status] ?? status,
        content: { [type]: { schema: type === 'application/json' ? converter.convert(response, 'output') : { type: 'string' } } },
      };
    }
    const operation: JsonSchema = {
      ...(schema.summary ? { summary: schema.summary } : {}),
      ...(schema.description ? { description: schema.description } : {}),
      ...(schema.tags ? { tags: schema.tags } : {}),
      operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      parameters: [...parameters(converter, schema.params, 'path'), ...parameters(converter, schema.querystring, 'query')],
      ...(schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: converter.convert(schema.body, 'input') } } } } : {}),
      responses: Object.keys(responses).length ? responses : { 200: { description: 'OK' } },
      ...(route.public ? { security: [] } : {}),
    };
    (paths[path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Errand HTTP gateway',
      version,
      description: 'Enqueue tasks, await their results and manage queues over HTTP. Errors: { "error": { "code", "message" } }.',
    },
    paths,
    components: {
      schemas: converter.components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the ERRAND_TOKEN the gateway was started with' } },
    },
    ...(secured ? { security: [{ bearer: [] }] } : {}),
  };
}

/** GET /openapi.json. */
export const openApiRoutes =
  (routes: readonly CollectedRoute[], version: string): RoutePlugin =>
  (ctx) =>
  async (app) => {
    let document: JsonSchema | undefined;
    // No schema of its own, so the document does not list itself.
    app.get('/openapi.json', { config: { scope: 'read', resource: 'none' } }, async () => {
      document ??= buildOpenApi(routes, { version, secured: Boolean(ctx.options.token) });
      return document;
    });
  };
