/**
 * Bounds on what the gateway's event streams may hold, so that clients cannot exhaust
 * Redis or the gateway's memory by opening streams and not reading them.
 *
 * - Topic streams: each is a member of a subscriber group with a blocking read of its own,
 *   so one Redis connection each. At most `maxTopicStreams` at once per gateway; more are
 *   answered 503 TOO_MANY_STREAMS with Retry-After (the other streams share connections:
 *   channels one per kind, task events one, dashboard feeds poll on the command connection).
 * - Unsent bytes: every stream counts what it wrote and the socket has not taken yet.
 *   When all streams together hold more than `maxStreamBufferBytes`, the streams holding
 *   the most are ended, each with a final `overflow` event, until the rest fit; a socket
 *   that does not take even that within a few seconds is destroyed, freeing its buffer.
 */
import { TooManyStreamsError } from '../errors.js';

/** How long a stream ended for overflow may take to flush before its socket is destroyed. */
export const OVERFLOW_GRACE_MS = 5_000;
/** Retry-After for a refused topic stream. */
const RETRY_AFTER_S = 5;

/** A stream as the budget sees it. */
export interface BufferedStream {
  /** Bytes written but not taken by the socket yet. */
  readonly bufferedBytes: number;
  /** Ends the stream for holding too much (its final event says so). */
  overflow(): void;
}

export interface BudgetMembership {
  /** Call after each write and on 'drain'. */
  update(): void;
  leave(): void;
}

export class StreamLimits {
  private topicStreams = 0;
  private total = 0;
  private readonly members = new Map<BufferedStream, number>();

  constructor(private readonly options: { maxTopicStreams: number; maxStreamBufferBytes: number }) {}

  /** Takes a topic stream's slot (call the returned function once to give it back); throws past the limit. */
  takeTopicSlot(): () => void {
    if (this.topicStreams >= this.options.maxTopicStreams) {
      throw new TooManyStreamsError('topic event streams', this.options.maxTopicStreams, RETRY_AFTER_S);
    }
    this.topicStreams++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.topicStreams--;
    };
  }

  /** Bytes all streams hold unsent now, as last seen. */
  get bufferedBytes(): number {
    return this.total;
  }

  join(stream: BufferedStream): BudgetMembership {
    this.members.set(stream, 0);
    return { update: () => this.update(stream), leave: () => this.leave(stream) };
  }

  private update(stream: BufferedStream): void {
    const before = this.members.get(stream);
    if (before === undefined) return;
    const now = stream.bufferedBytes;
    this.members.set(stream, now);
    this.total += now - before;
    if (this.total > this.options.maxStreamBufferBytes) this.shed();
  }

  private leave(stream: BufferedStream): void {
    const bytes = this.members.get(stream);
    if (bytes === undefined) return;
    this.members.delete(stream);
    this.total -= bytes;
  }

  /** Ends the streams holding the most until the rest fit the budget. */
  private shed(): void {
    while (this.total > this.options.maxStreamBufferBytes && this.members.size > 0) {
      let largest: BufferedStream | undefined;
      let most = -1;
      for (const [stream, bytes] of this.members) {
        if (bytes > most) {
          most = bytes;
          largest = stream;
        }
      }
      this.leave(largest!);
      largest!.overflow();
    }
  }
}
