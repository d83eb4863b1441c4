/**
 * Every error answer has one shape, `{ "error": { "code", "message" } }`, with the status
 * of its code in the registry (src/errors.ts). Errand's own errors pass through as they
 * are; Fastify's transport errors (bad JSON, body too large, wrong media type) are mapped
 * to the registry's codes; anything else is logged and answered as INTERNAL.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import {
  ErrandError,
  InternalError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(error: ErrandError): ErrorBody {
  return { error: error.toJSON() };
}

/** The registry error for anything a route or Fastify threw. */
export function toErrandError(error: unknown, bodyLimitBytes: number, contentType?: string): ErrandError {
  if (error instanceof ErrandError) return error;
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ErrandError(
        'PAYLOAD_TOO_LARGE',
        `the request body is over the gateway's limit of ${bodyLimitBytes} bytes: send less per request (split a batch) or raise bodyLimitBytes`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(contentType);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ValidationError(`${fastifyError.message}: names and ids have at most 128 characters`);
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_INVALID_URL':
      return new ValidationError(`${fastifyError.message}: send a valid JSON body with "Content-Type: application/json"`);
  }
  // Other 4xx errors from Fastify's parsers (e.g. prototype poisoning) are the client's.
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ValidationError(fastifyError.message ?? 'bad request');
  }
  return new InternalError({ cause: error });
}

export function installErrorHandlers(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((error, request, reply) => {
    const mapped = toErrandError(error, bodyLimitBytes, request.headers['content-type']);
    if (mapped.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    else if (mapped.code === 'REDIS_UNAVAILABLE') request.log.warn({ err: error }, 'Redis unavailable');
    if (reply.sent || reply.raw.headersSent) return; // an event stream already started
    void reply.status(mapped.httpStatus).send(errorBody(mapped));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const error = new RouteNotFoundError(request.method, path);
    void reply.status(error.httpStatus).send(errorBody(error));
  });
}
