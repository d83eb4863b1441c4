/**
 * `errand/testing`: a kit for testing code that uses Errand, with a real Redis and no mocks:
 * a throwaway `redis-server` per test file (`startRedis`), a key prefix per test
 * (`testPrefix`), and helpers that process what is due and return what ran (`drain`,
 * `runUntilIdle`). See docs/testing.md.
 */
export { RedisServerMissingError, startRedis, testPrefix } from './redis.js';
export type { TestRedis, TestRedisOptions } from './redis.js';
export { drain, runUntilIdle } from './drain.js';
export type { DrainOptions, RunUntilIdleOptions } from './drain.js';
