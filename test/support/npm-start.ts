/**
 * Runs `npm start` (or any npm script) in a checkout as a person does in a terminal: in a
 * process group of its own, so `ctrlC()` sends SIGINT to the whole group (npm, and the node
 * it runs) the way a terminal does. Its log is JSON lines (stdout is a pipe); each record's
 * `msg` can be awaited. The group is killed (SIGKILL) when the test's scope closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface NpmRun {
  readonly child: ChildProcess;
  /** The `msg` of each JSON log line (other lines as they are). */
  readonly messages: string[];
  /** The JSON log records. */
  readonly records: Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  stderr(): string;
  waitFor(match: RegExp): Promise<string>;
  /** SIGINT to the process group, as Ctrl-C in a terminal. */
  ctrlC(): void;
  /** The pid of the node process npm started, from its log records. */
  nodePid(): number;
  close(): Promise<void>;
}

export function npmRun(cwd: string, args: string[], env: Record<string, string | undefined>): NpmRun {
  const started = Date.now();
  const child = spawn('npm', args, {
    cwd,
    env: Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, value]) => value !== undefined)) as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const messages: string[] = [];
  const records: Record<string, unknown>[] = [];
  const waiters: { match: RegExp; resolve: (msg: string) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg = line;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      records.push(record);
      msg = String(record.msg);
    } catch {
      // npm's own lines ("> errand@0.1.0 start"): kept as they are
    }
    messages.push(msg);
    for (const waiter of waiters.filter((w) => w.match.test(msg))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(msg);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - started })),
  );
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  return {
    child,
    messages,
    records,
    exited,
    stderr: () => stderr,
    waitFor(match) {
      const seen = messages.find((msg) => match.test(msg));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then(({ code }) => reject(new Error(`npm ${args.join(' ')} exited (${code}) before logging ${match}:\n${messages.join('\n')}\n${stderr}`)));
      });
    },
    ctrlC: () => signalGroup('SIGINT'),
    nodePid() {
      const pid = records.find((record) => typeof record.pid === 'number')?.pid;
      if (typeof pid !== 'number') throw new Error('no log record named the node process yet');
      return pid;
    },
    async close() {
      signalGroup('SIGKILL');
      await exited;
    },
  };
}

/** Whether a process with this pid still runs. */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
