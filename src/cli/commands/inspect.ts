/**
 * `errand inspect <queue> <id>`: everything stored about one task (or why there is none: no
 * such task, or no such queue); `--watch` then prints a line each time the task moves or
 * reports progress, until it is final.
 */
import { validateTaskId } from '../../config.js';
import { TaskNotFoundError, type TaskInfo } from '../../index.js';
import type { CliContext } from '../context.js';
import type { FlowTreeNode } from '../../flows/flows.js';
import { formatFields, formatJson, formatTime, printJson, printLine } from '../output.js';
import { formatProgress } from '../task-text.js';
import { taskNotFound } from '../unknown-queue.js';
import type { RegisterCommand } from './index.js';

export const registerInspect: RegisterCommand = (program, cli) => {
  program
    .command('inspect')
    .summary('show everything about one task')
    .description('show a task: state, attempts, payload, result or error, timings; in a flow, its parent and children')
    .argument('<queue>', 'queue name')
    .argument('<id>', 'task id')
    .option('-w, --watch', 'then print a line each time the task moves or reports progress, until it is final (or Ctrl-C)')
    .action(async (name: string, id: string, options: { watch?: boolean }) => {
      const queue = cli.admin.queue(name);
      validateTaskId(id);
      await cli.checkRedis();
      if (options.watch) {
        await watch(cli, name, id);
        return;
      }
      const task = await queue.getTask(id);
      if (!task) throw await taskNotFound(cli, name, id);
      // A flow's node: its parent and children, with their states.
      const tree = await cli.admin.flows.get(name, id, { maxNodes: SHOWN_CHILDREN + 2 });
      const flow = tree && (tree.parent || tree.children.length) ? flowView(tree) : undefined;
      if (cli.json) printJson(flow ? { ...task, flow } : task);
      else printLine(flow ? `${formatTask(task)}\n${formatFlow(flow)}` : formatTask(task));
    });
};

/** Children `inspect` lists at most (the rest are counted). */
const SHOWN_CHILDREN = 50;

interface FlowView {
  parent?: { queue: string; id: string };
  children: { queue: string; id: string; state: string }[];
  /** Not every child is listed: more than SHOWN_CHILDREN. */
  more: boolean;
}

function flowView(tree: FlowTreeNode): FlowView {
  const view: FlowView = { children: tree.children.slice(0, SHOWN_CHILDREN).map(({ queue, id, state }) => ({ queue, id, state })), more: tree.children.length > SHOWN_CHILDREN };
  if (tree.parent) view.parent = tree.parent;
  return view;
}

/** The flow part: the parent (to inspect next), then one line per child with its state. */
function formatFlow(flow: FlowView): string {
  const lines: string[] = [];
  if (flow.parent) lines.push(formatFields([['parent', `${flow.parent.queue} ${flow.parent.id}`]]));
  if (flow.children.length) {
    lines.push(`children${flow.more ? ` (the first ${SHOWN_CHILDREN})` : ''}:`);
    for (const child of flow.children) lines.push(`  ${child.queue} ${child.id}  ${child.state}`);
  }
  return lines.join('\n');
}

/** The task, then a line per change (with --json, the task each time), until it is final. */
async function watch(cli: CliContext, name: string, id: string): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let first = true;
  try {
    for await (const task of cli.admin.queue(name).watchTask(id, { signal: stop.signal })) {
      if (cli.json) printJson(task);
      else if (first) printLine(formatTask(task));
      else printLine(formatChange(task));
      first = false;
    }
  } catch (error) {
    if (error instanceof TaskNotFoundError) throw await taskNotFound(cli, name, id);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One line: when it was seen, its state and attempt, its progress, and how it ended. */
function formatChange(task: TaskInfo): string {
  const parts = [new Date().toISOString(), task.state.padEnd(9), `attempt ${task.attempt} of ${task.maxAttempts}`];
  if (task.progress !== undefined) parts.push(formatProgress(task.progress));
  if (task.state === 'completed' && 'result' in task) parts.push(`result ${JSON.stringify(task.result)}`);
  if ((task.state === 'failed' || task.state === 'delayed') && task.error) parts.push(`${task.error.name}: ${task.error.message}`);
  return parts.join('  ');
}

export function formatTask(task: TaskInfo): string {
  const error = task.error ? `${task.error.name}: ${task.error.message}` : undefined;
  const fields = formatFields([
    ['id', task.id],
    ['queue', task.queue],
    ['state', task.state],
    ['attempt', `${task.attempt} of ${task.maxAttempts}`],
    ['priority', String(task.priority)],
    ['created', formatTime(task.createdAt)],
    ['run at', formatTime(task.runAt)],
    ['started', formatTime(task.startedAt)],
    ['finished', formatTime(task.finishedAt)],
    ['worker', task.worker],
    ['dedupe key', task.dedupeKey],
    ['timeout', task.timeoutMs === undefined ? undefined : `${task.timeoutMs} ms`],
    ['backoff', task.backoff && formatJson(task.backoff)],
    ['progress', task.progress === undefined ? undefined : formatProgress(task.progress)],
    ['payload', formatJson(task.payload)],
    ['result', 'result' in task ? formatJson(task.result) : undefined],
    ['error', error],
  ]);
  if (!task.attempts.length) return fields;
  const attempts = task.attempts.map(
    (attempt) => `  #${attempt.attempt}  ${formatTime(attempt.finishedAt)}  ${attempt.error.name}: ${attempt.error.message}`,
  );
  return `${fields}\nfailed attempts:\n${attempts.join('\n')}`;
}
