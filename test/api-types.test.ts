/**
 * Type tests of the public API. `npm test` type-checks this file (tsc --noEmit), so a
 * change that breaks what users write fails the build; the runtime part checks the exports.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as errand from '../src/index.js';
import type { ActiveTask, HandlerContext, Queue, Task, TaskCounts, TaskInfo, Worker } from '../src/index.js';

interface Email {
  to: string;
}
interface Sent {
  messageId: string;
}

describe('public API types', () => {
  it('carries payload and result types from Queue and Worker to their users', () => {
    expectTypeOf<Queue<Email, Sent>['enqueue']>().parameter(0).toEqualTypeOf<Email>();
    expectTypeOf<Awaited<ReturnType<Queue<Email, Sent>['enqueue']>>>().toEqualTypeOf<Task<Sent>>();
    expectTypeOf<Awaited<ReturnType<Task<Sent>['result']>>>().toEqualTypeOf<Sent>();
    expectTypeOf<Awaited<ReturnType<Queue<Email, Sent>['getTask']>>>().toEqualTypeOf<TaskInfo<Email, Sent> | null>();
    expectTypeOf<Awaited<ReturnType<Queue['counts']>>>().toEqualTypeOf<TaskCounts>();

    // The handler function (a module URL or path is the other form, for isolated workers).
    type Handler = Extract<ConstructorParameters<typeof Worker<Email, Sent>>[1], (...args: never[]) => unknown>;
    expectTypeOf<ConstructorParameters<typeof Worker<Email, Sent>>[1]>().toEqualTypeOf<Handler | URL | string>();
    expectTypeOf<Parameters<Handler>[0]>().toEqualTypeOf<ActiveTask<Email>>();
    expectTypeOf<Parameters<Handler>[1]>().toEqualTypeOf<HandlerContext>();
    expectTypeOf<ReturnType<Handler>>().toEqualTypeOf<Sent | Promise<Sent>>();
  });

  it('types worker events', () => {
    const worker = null as unknown as Worker<Email, Sent>;
    if (worker) {
      worker.on('completed', (task, result) => {
        expectTypeOf(task).toEqualTypeOf<ActiveTask<Email>>();
        expectTypeOf(result).toEqualTypeOf<Sent>();
      });
      worker.on('failed', (_task, error, willRetry) => {
        expectTypeOf(error).toEqualTypeOf<Error>();
        expectTypeOf(willRetry).toEqualTypeOf<boolean>();
      });
      // @ts-expect-error: not an event of Worker
      worker.on('finished', () => {});
    }
  });

  it('rejects mistyped task options at compile time', () => {
    const queue = null as unknown as Queue<Email, Sent>;
    if (queue) {
      // @ts-expect-error: attempts is a number
      void queue.enqueue({ to: 'a' }, { attempts: '3' });
      // @ts-expect-error: payload has the queue's type
      void queue.enqueue({ from: 'a' });
    }
  });

  it('exports the classes users instantiate and catch', () => {
    for (const name of ['Queue', 'Worker', 'Task', 'UnrecoverableError', 'RetryAfterError', 'ErrandError', 'ValidationError']) {
      expect(typeof (errand as Record<string, unknown>)[name]).toBe('function');
    }
  });
});
