/**
 * Records what Redis runs, through MONITOR, and attributes the commands scripts run to the
 * script that ran them (called as a function, FCALL, or with EVALSHA): for tests that check
 * what each script really touches.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { scriptLibrary, scriptSources, type ScriptName } from '../../src/redis/scripts.js';

export interface ScriptRun {
  script: ScriptName;
  keys: string[];
  /** The commands the script ran, each as its arguments (command name first, upper case). */
  commands: string[][];
}

export class ScriptMonitor {
  readonly runs: ScriptRun[] = [];
  private readonly byHash = new Map<string, ScriptName>();
  private readonly byFunction = new Map<string, ScriptName>();
  private current: ScriptRun | undefined;

  private constructor(private readonly monitor: Redis) {
    for (const variant of ['PUBLISH', 'SPUBLISH'] as const) {
      for (const [name, source] of scriptSources(variant)) this.byHash.set(createHash('sha1').update(source).digest('hex'), name);
      for (const [name, fn] of scriptLibrary(variant).functions) this.byFunction.set(fn, name);
    }
  }

  static async start(url: string): Promise<ScriptMonitor> {
    const client = new Redis(url);
    const monitor = await client.monitor();
    client.disconnect();
    const recorder = new ScriptMonitor(monitor);
    monitor.on('monitor', (_time: string, args: string[], source: string) => recorder.onCommand(args, source));
    return recorder;
  }

  /** Resolves once every command sent before it has been seen (a PING through MONITOR). */
  async settle(client: Redis): Promise<void> {
    const marker = `settle-${Math.random()}`;
    await new Promise<void>((resolve) => {
      const onCommand = (_time: string, args: string[]) => {
        if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) {
          this.monitor.off('monitor', onCommand);
          resolve();
        }
      };
      this.monitor.on('monitor', onCommand);
      void client.echo(marker);
    });
  }

  stop(): void {
    this.monitor.disconnect();
  }

  private onCommand(args: string[], source: string): void {
    const name = args[0]?.toLowerCase();
    if (source === 'lua') {
      this.current?.commands.push([args[0]!.toUpperCase(), ...args.slice(1)]);
      return;
    }
    if (name === 'fcall') {
      const script = this.byFunction.get(args[1]!);
      if (!script) throw new Error(`a function that is not Errand's ran: ${args[1]}`);
      const count = Number(args[2]);
      this.current = { script, keys: args.slice(3, 3 + count), commands: [] };
      this.runs.push(this.current);
    } else if (name === 'evalsha' || name === 'eval') {
      // EVAL comes after a NOSCRIPT, with the text (escaped by MONITOR): its header names it.
      const script = name === 'evalsha' ? this.byHash.get(args[1]!) : (/--\[\[ ([a-z-]+):/.exec(args[1]!)?.[1] as ScriptName | undefined);
      if (!script) throw new Error(`a script that is not Errand's ran: ${args[1]!.slice(0, 60)}`);
      const count = Number(args[2]);
      this.current = { script, keys: args.slice(3, 3 + count), commands: [] };
      this.runs.push(this.current);
    } else {
      this.current = undefined;
    }
  }
}

