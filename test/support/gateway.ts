/**
 * Gateway helpers for tests: a gateway per test on the test file's Redis and the test's
 * prefix (closed with the scope), JSON requests through `inject`, and an SSE body parser.
 */
import { buildGateway, type Gateway } from '../../src/gateway/app.js';
import type { GatewayOptions } from '../../src/gateway/options.js';
import type { RedisFixture, TestScope } from './fixtures.js';

export async function useGatewayIn(s: TestScope, redis: RedisFixture, options: GatewayOptions = {}): Promise<Gateway> {
  const gateway = await buildGateway({ connection: redis.url, prefix: s.prefix, ...options });
  return s.add(gateway);
}

export interface JsonReply {
  status: number;
  body: any;
  headers: Record<string, unknown>;
  text: string;
}

export async function call(
  gateway: Gateway,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const reply = await gateway.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  let body: unknown;
  try {
    body = JSON.parse(reply.body);
  } catch {
    body = undefined;
  }
  return { status: reply.statusCode, body, headers: reply.headers, text: reply.body };
}

export interface SseEvent {
  event: string;
  data: any;
}

/** Parses a complete text/event-stream body (comments skipped). */
export function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const field = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      return { event: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') };
    });
}
