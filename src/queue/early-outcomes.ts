/**
 * Outcomes announced before anyone waited for them, remembered for a while: a process that
 * enqueued a task and awaits its result right after skips reading the task, so an outcome
 * that came before the wait began must still be found.
 *
 * Two generations: one is dropped every `keepMs` (at least that long is kept), or sooner
 * when it holds `maxPerGeneration`, so memory stays bounded whatever the queue's rate. A
 * wait whose mark is older than what was dropped (`forgotBefore`) cannot trust that an
 * outcome missing here never came: it reads the task instead.
 */

/**
 * An outcome heard with no waiter: when (performance.now()), and the announced result of a
 * completed task when short (else undefined: read the task).
 */
export interface EarlyOutcome {
  at: number;
  result: string | undefined;
}

export class EarlyOutcomes {
  private current = new Map<string, EarlyOutcome>();
  private previous = new Map<string, EarlyOutcome>();
  private since = 0;
  /** Outcomes heard before this time (performance.now()) may have been dropped. */
  forgotBefore = 0;

  constructor(
    private readonly keepMs: number,
    private readonly maxPerGeneration: number,
  ) {}

  remember(id: string, result: string | undefined): void {
    const now = performance.now();
    if (now - this.since >= this.keepMs || this.current.size >= this.maxPerGeneration) {
      // The generation dropped now holds outcomes heard before the current one began.
      this.forgotBefore = this.since;
      this.previous = this.current;
      this.current = new Map();
      this.since = now;
    }
    this.current.set(id, { at: now, result });
  }

  /** The outcome of `id` heard after `after` (a task enqueued again under an id must not take its namesake's). */
  find(id: string, after: number): EarlyOutcome | undefined {
    const outcome = this.current.get(id) ?? this.previous.get(id);
    return outcome && outcome.at > after ? outcome : undefined;
  }

  /** Forgets everything (a reconnection: what was heard belongs to another stretch). */
  clear(): void {
    this.current = new Map();
    this.previous = new Map();
  }
}
