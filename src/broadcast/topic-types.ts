/**
 * The shapes topic subscribers see: what a handler receives, and a member's events.
 */

export interface TopicMessageMeta {
  /** The message's id in the topic (also its publish time: `<ms>-<seq>`). */
  id: string;
  topic: string;
  group: string;
  /** Deliveries of this message to the group so far, this one included. */
  attempt: number;
  /** Epoch ms (Redis clock), read from the id. */
  publishedAt: number;
  /** Aborted when this member loses the message (its lease ran out) or closes past its timeout. */
  signal: AbortSignal;
}

/** Handles one message; the message is acknowledged once this returns or resolves. */
export type TopicHandler<M> = (message: M, meta: TopicMessageMeta) => unknown;

export interface TopicSubscriptionEvents {
  /** A message was handled and acknowledged. */
  completed: [meta: TopicMessageMeta];
  /** A handler failed; `deadLettered` tells whether that was the message's last attempt. */
  failed: [meta: TopicMessageMeta, error: Error, deadLettered: boolean];
  /**
   * This member moved messages to the dead letters whose last allowed attempt ran out of
   * time (the member holding them died or stalled); their ids.
   */
  exhausted: [ids: string[]];
  /** The member lost a message (another member took it over); its outcome was not recorded. */
  lost: [meta: TopicMessageMeta];
  /** A problem of the member itself (Redis unreachable, ...). It keeps going. */
  error: [error: Error];
  closed: [];
}

export interface SubscriptionCloseOptions {
  /** How long running handlers may go on; after it their signals abort. Default 30 s. */
  timeoutMs?: number;
}
