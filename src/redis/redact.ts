/**
 * Keeps credentials out of every log line, message and HTTP answer: one function for Redis
 * URLs (used by the CLI, the gateway and the code that finds or starts a local Redis) and
 * one for errors about to be logged (ioredis attaches the failed command, arguments and
 * all, to its errors: an AUTH that failed carries the password).
 *
 * Both err on the side of hiding too much: a URL whose password holds `@`, `/` or `?`
 * unescaped still has nothing of it shown.
 */

const HIDDEN = '***';

/** Query parameters ioredis reads credentials from (`redis://host?password=...`). */
const SECRET_PARAM = /([?&](?:password|pass|pwd|username|user)=)/i;

/**
 * A Redis URL without its credentials: `redis://user:***@host:6379/0`, `redis://***@host`,
 * `redis://host?password=***`. Everything after a credential query parameter is dropped
 * (its value may hold `&`); everything before the last `@` is the user part, whatever it holds.
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return url.includes('@') ? HIDDEN : url; // not a URL: say nothing of it
  let rest = url.slice(scheme[0].length);
  const param = SECRET_PARAM.exec(rest);
  if (param) rest = `${rest.slice(0, param.index + param[1]!.length)}${HIDDEN}`;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    // A user name is shown (it helps, and it is no secret); a password never is.
    const user = colon > 0 && !/[/?#]/.test(userinfo.slice(0, colon)) ? `${userinfo.slice(0, colon)}:` : colon === 0 ? ':' : '';
    rest = `${user}${HIDDEN}${rest.slice(at)}`;
  }
  return `${scheme[0]}${rest}`;
}

interface CommandCarrier {
  command?: { name?: unknown; args?: unknown };
  previousErrors?: unknown;
  cause?: unknown;
}

/**
 * A copy of `error` fit for a log: the arguments of any ioredis command it (or an error in
 * its `cause` chain) carries are replaced by their count, the command name kept. The
 * original error is left as it is (its caller may still use it).
 */
export function redactError<T>(error: T, depth = 0): T {
  if (!(error instanceof Error) || depth > 5) return error;
  const carrier = error as Error & CommandCarrier;
  const hasCommand = carrier.command !== undefined && typeof carrier.command === 'object' && carrier.command !== null;
  const hasCause = carrier.cause !== undefined;
  const hasPrevious = Array.isArray(carrier.previousErrors);
  if (!hasCommand && !hasCause && !hasPrevious) return error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error & CommandCarrier;
  for (const key of Object.getOwnPropertyNames(error)) {
    Object.defineProperty(copy, key, Object.getOwnPropertyDescriptor(error, key)!);
  }
  if (hasCommand) {
    const { name, args } = carrier.command!;
    copy.command = { name, args: Array.isArray(args) ? [`<${args.length} argument${args.length === 1 ? '' : 's'} redacted>`] : [] };
  }
  if (hasCause) copy.cause = redactError(carrier.cause, depth + 1);
  if (hasPrevious) copy.previousErrors = (carrier.previousErrors as unknown[]).map((item) => redactError(item, depth + 1));
  return copy as T;
}
