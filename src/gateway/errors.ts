/**
 * Every error answer has one shape, `{ "error": { "code", "message" } }`, with the status
 * of its code in the registry (src/errors.ts). Errand's own errors pass through as they
 * are; Redis replies Errand knows (refused credentials, out of memory) and Fastify's
 * transport errors (bad JSON, body too large, wrong media type) are mapped to the
 * registry's codes, and so are the HTTP server's own refusals (malformed requests, headers
 * too large, a request not received in time: `answerClientError`); anything else is logged
 * and answered as INTERNAL. What is logged never holds a Redis command's arguments.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';
import {
  ErrandError,
  HeadersTooLargeError,
  InternalError,
  RequestTimeoutError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors.js';
import { redactError } from '../redis/redact.js';
import { typedReplyError } from '../redis/reply-errors.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(error: ErrandError): ErrorBody {
  return { error: error.toJSON() };
}

/** The registry error for anything a route or Fastify threw. */
export function toErrandError(error: unknown, bodyLimitBytes: number, contentType?: string): ErrandError {
  if (error instanceof ErrandError) return error;
  const known = typedReplyError(error);
  if (known) return known;
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
      return new ValidationError(`${fastifyError.message}: send a valid JSON body with "Content-Type: application/json"`);
    case 'FST_ERR_MAX_PARAM_LENGTH':
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_INVALID_URL':
      return new ValidationError(`${fastifyError.message}: URL-encode each path part; names and ids have at most 128 characters`);
  }
  // Other 4xx errors from Fastify's parsers (e.g. prototype poisoning) are the client's.
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ValidationError(fastifyError.message ?? 'bad request');
  }
  return new InternalError({ cause: error });
}

/**
 * `explain` may replace a mapped error by a more precise one (an unavailable Redis that in
 * fact refused the credentials).
 */
export function installErrorHandlers(app: FastifyInstance, bodyLimitBytes: number, explain: (error: ErrandError) => ErrandError = (e) => e): void {
  app.setErrorHandler((error, request, reply) => {
    const mapped = explain(toErrandError(error, bodyLimitBytes, request.headers['content-type']));
    if (mapped.code === 'INTERNAL') request.log.error({ err: redactError(error), ip: request.ip }, 'request failed');
    else if (mapped.code.startsWith('REDIS_') || mapped.code === 'UNSAFE_EVICTION_POLICY') request.log.warn({ err: redactError(mapped), ip: request.ip }, mapped.message);
    if (reply.sent || reply.raw.headersSent) return; // an event stream already started
    const retryAfter = (mapped as { retryAfterS?: number }).retryAfterS;
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    void reply.status(mapped.httpStatus).send(errorBody(mapped));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const error = new RouteNotFoundError(request.method, path);
    void reply.status(error.httpStatus).send(errorBody(error));
  });
}

/**
 * Answers what Node's HTTP server refuses before Fastify sees a request (a malformed
 * request, headers over the size limit, a request not received within requestTimeoutMs)
 * in Errand's error shape, then closes the connection.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket, requestTimeoutMs: number): void {
  if (!socket.writable) return void socket.destroy();
  const mapped =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLargeError()
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeoutError(requestTimeoutMs)
        : new ValidationError('malformed HTTP request: send a valid HTTP/1.1 request');
  const body = JSON.stringify(errorBody(mapped));
  const reason = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[mapped.httpStatus] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${mapped.httpStatus} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
