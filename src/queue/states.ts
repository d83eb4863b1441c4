/**
 * The states a task goes through, which of them are final, and their one-letter codes in
 * a task hash (the codes themselves are part of the storage layout: src/redis/keys.ts).
 */
import { STATE_CODES } from '../redis/keys.js';

export type TaskState = keyof typeof STATE_CODES;

export const TASK_STATES: readonly TaskState[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled', 'dependencies'];
export const FINAL_STATES: readonly TaskState[] = ['completed', 'failed', 'cancelled'];

const STATES_BY_CODE = new Map<string, TaskState>(Object.entries(STATE_CODES).map(([state, code]) => [code, state as TaskState]));

/** The state a stored code stands for (undefined for no or an unknown code). */
export function stateFromCode(code: string | null | undefined): TaskState | undefined {
  return code ? STATES_BY_CODE.get(code) : undefined;
}
