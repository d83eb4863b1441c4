/**
 * Live snapshots for the dashboard's event streams, shared by every browser watching the
 * same thing.
 *
 * Responsible for: one poller per feed key (the overview, one queue, the workers) that runs
 * only while someone listens, reads a snapshot every `intervalMs`, and hands it to the
 * listeners when it differs from the last one (a new listener gets the last one at once);
 * a failed read (Redis down) is handed on as an error and the polling goes on. So a
 * hundred open dashboards cost the same Redis reads as one.
 */

export type FeedEvent<T> = { kind: 'snapshot'; data: T } | { kind: 'error'; error: unknown };
export type FeedListener<T> = (event: FeedEvent<T>) => void;

class Feed<T> {
  private readonly listeners = new Set<FeedListener<T>>();
  private last: FeedEvent<T> | undefined;
  private lastJson = '';
  private timer: NodeJS.Timeout | undefined;
  private reading = false;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly intervalMs: number,
    private readonly onIdle: () => void,
  ) {}

  subscribe(listener: FeedListener<T>): () => void {
    this.listeners.add(listener);
    if (this.last) listener(this.last);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      this.timer.unref();
      void this.tick();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    this.onIdle();
  }

  private async tick(): Promise<void> {
    if (this.reading) return; // a slow read: skip a beat rather than pile up reads
    this.reading = true;
    let event: FeedEvent<T>;
    let json: string;
    try {
      const data = await this.load();
      event = { kind: 'snapshot', data };
      json = JSON.stringify(data);
    } catch (error) {
      // Handed to the listeners (the stream shows it); the next tick tries again.
      event = { kind: 'error', error };
      json = `error:${(error as Error).message}`;
    } finally {
      this.reading = false;
    }
    if (json === this.lastJson || !this.timer) return;
    this.lastJson = json;
    this.last = event;
    for (const listener of this.listeners) listener(event);
  }
}

export class FeedHub {
  private readonly feeds = new Map<string, Feed<unknown>>();

  constructor(private readonly intervalMs: number) {}

  /** Listens to the feed `key`, created with `load` if nobody listens to it yet. */
  subscribe<T>(key: string, load: () => Promise<T>, listener: FeedListener<T>): () => void {
    let feed = this.feeds.get(key) as Feed<T> | undefined;
    if (!feed) {
      feed = new Feed<T>(load, this.intervalMs, () => this.feeds.delete(key));
      this.feeds.set(key, feed as Feed<unknown>);
    }
    return feed.subscribe(listener);
  }

  /** Stops every feed (the gateway is closing). */
  close(): void {
    for (const feed of [...this.feeds.values()]) feed.stop();
  }
}
