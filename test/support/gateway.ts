/**
 * Gateway helpers for tests: a gateway per test on the test file's Redis and the test's
 * prefix (closed with the scope), JSON requests through `inject`, an SSE body parser, and an
 * SSE reader for streams over a real port.
 */
import { expect, vi } from 'vitest';
import { buildGateway, startGateway, type Gateway, type ListeningGateway } from '../../src/gateway/app.js';
import type { GatewayOptions } from '../../src/gateway/options.js';
import type { RedisFixture, TestScope } from './fixtures.js';

export async function useGatewayIn(s: TestScope, redis: RedisFixture, options: GatewayOptions = {}): Promise<Gateway> {
  const gateway = await buildGateway({ connection: redis.url, prefix: s.prefix, ...options });
  return s.add(gateway);
}

/** A gateway on a real loopback port (port 0: a free one), closed with the scope. */
export async function listeningIn(s: TestScope, redis: RedisFixture, options: GatewayOptions = {}): Promise<ListeningGateway> {
  return s.add(await startGateway({ connection: redis.url, prefix: s.prefix, port: 0, ...options }));
}

/**
 * A request that must be refused: its status, the `{ error }` body shape, a message that
 * says why, and not a single key written under the test's prefix.
 */
export async function expectRefused(
  s: TestScope,
  gateway: Gateway,
  [method, url, payload, status, message]: [JsonMethod, string, unknown, number, RegExp],
): Promise<void> {
  const reply = await call(gateway, method, url, payload);
  expect(reply.status).toBe(status);
  expect(Object.keys(reply.body)).toEqual(['error']);
  expect(reply.body.error.message).toMatch(message);
  expect(await s.client().keys(`${s.prefix}*`)).toEqual([]);
}

type JsonMethod = 'GET' | 'POST' | 'DELETE' | 'PUT';

export interface JsonReply {
  status: number;
  body: any;
  headers: Record<string, unknown>;
  text: string;
}

export async function call(
  gateway: Gateway,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH',
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

/** Reads an event stream as it arrives, one parsed event at a time. */
export function eventReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<{ event: string; data: any; id?: string } | undefined> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n').filter((line) => !line.startsWith(':'));
          if (lines.length === 0) continue; // a comment (stream open, keep-alive)
          const field = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
          const id = field('id');
          return { event: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null'), ...(id === undefined ? {} : { id }) };
        }
        const chunk = await reader.read();
        if (chunk.done) return undefined;
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

/**
 * Opens an event stream over a real port; the answer's status and headers, and its events
 * one at a time. Closed (the client hangs up) with the scope, or earlier by `close()`.
 */
export async function openEvents(s: TestScope, url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reader = eventReader(response.body!);
  const close = async () => {
    controller.abort();
    await reader.cancel().catch(() => {}); // already aborted
  };
  s.add({ close });
  return { response, next: reader.next, close };
}

/**
 * Retries an assertion about state that follows an event the test cannot await (an
 * acknowledgement written, a member gone) until it holds; the long timeout is for loaded
 * machines, not a margin the test relies on.
 */
export function eventually<T>(assertion: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  return vi.waitFor(assertion, { timeout: timeoutMs, interval: 20 });
}
