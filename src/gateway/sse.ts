/**
 * Server-Sent Events over a Fastify reply: takes the response over from Fastify, writes
 * the stream's headers, frames events, sends a comment every `heartbeatMs` so proxies keep
 * the connection open, and aborts its `signal` when the client goes away or the gateway
 * closes, so whatever feeds the stream can stop. `deliver` tells when an event was handed
 * to the operating system (durable topic streams acknowledge a message only then). Every
 * stream takes part in the gateway's budget of unsent bytes (stream-limits.ts): a stream
 * ended for overflow gets a final `overflow` event.
 */
import type { FastifyReply } from 'fastify';
import { OVERFLOW_GRACE_MS, type StreamLimits } from './stream-limits.js';

export interface EventStream {
  /** Aborted when the client disconnects, the stream ends or the gateway closes. */
  readonly signal: AbortSignal;
  send(event: string, data: unknown, id?: string): void;
  /**
   * Writes an event and resolves once it was handed to the operating system's socket;
   * rejects if the stream ended first or the write failed (the client went away).
   */
  deliver(event: string, data: unknown, id?: string): Promise<void>;
  /** Bytes written but not yet handed to the socket (a client reading slower than we write). */
  readonly bufferedBytes: number;
  end(): void;
}

export interface EventStreamOptions {
  heartbeatMs: number;
  /** Aborted when the gateway closes. */
  closing: AbortSignal;
  /** The gateway's budget of unsent bytes. */
  limits: StreamLimits;
}

export function openEventStream(reply: FastifyReply, { heartbeatMs, closing, limits }: EventStreamOptions): EventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // nginx: do not buffer the stream
  });
  raw.write(': stream open\n\n');
  const controller = new AbortController();
  let ended = false;
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs);
  heartbeat.unref();

  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    closing.removeEventListener('abort', end);
    budget.leave();
    controller.abort();
    if (!raw.writableEnded) raw.end();
  };
  const budget = limits.join({
    get bufferedBytes() {
      return raw.writableLength;
    },
    overflow() {
      if (ended) return;
      const socket = raw.socket; // the response lets go of it once ended
      raw.write(frame('overflow', { reason: "this stream's client read slower than events came, and the gateway's buffer for streams is full: reconnect" }, undefined));
      end();
      // A client that does not take even this is cut off, freeing what it holds.
      setTimeout(() => socket?.destroy(), OVERFLOW_GRACE_MS).unref();
    },
  });
  raw.on('drain', () => budget.update());
  raw.on('close', end);
  if (closing.aborted) end();
  else closing.addEventListener('abort', end);

  // JSON never contains a raw newline, so each event's data is one `data:` line.
  const frame = (event: string, data: unknown, id: string | undefined) =>
    `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  const gone = () => new Error('the client disconnected before the event was written');
  // Deliveries waiting for their write callback, failed together when the stream ends: one
  // abort listener for all (a topic stream has up to `prefetch` in flight, and a listener
  // each would trip Node's MaxListenersExceededWarning past 10).
  const waiting = new Set<() => void>();
  controller.signal.addEventListener('abort', () => {
    for (const fail of waiting) fail();
    waiting.clear();
  });

  return {
    signal: controller.signal,
    send(event, data, id) {
      if (ended) return;
      raw.write(frame(event, data, id));
      budget.update();
    },
    deliver(event, data, id) {
      if (ended) return Promise.reject(gone());
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(gone());
        waiting.add(onAbort);
        raw.write(frame(event, data, id), (error) => {
          waiting.delete(onAbort);
          // A callback after the stream ended cannot prove the client got the bytes.
          if (error || ended) reject(error ?? gone());
          else resolve();
        });
        budget.update();
      });
    },
    get bufferedBytes() {
      return raw.writableLength;
    },
    end,
  };
}
