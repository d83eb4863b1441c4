/**
 * The client's calls to the UI API: JSON reads, actions (POST with the session's CSRF
 * token; a refused token is fetched again once, for a restarted gateway), and event
 * streams that reconnect by themselves and report whether they are live. An answer saying
 * the login is needed sends the browser to the login form.
 */
import { API_BASE, CSRF_HEADER, LOGIN_PATH, type ErrorBody, type SessionInfo } from '../shared.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** A refused settings change: what is wrong with each field, by path. */
    readonly fields?: Readonly<Record<string, string>>,
  ) {
    super(message);
  }
}

/** Sends the browser to the login form, to come back here. */
export function toLogin(): never {
  const here = location.pathname + location.search;
  location.assign(here === '/' ? LOGIN_PATH : `${LOGIN_PATH}?next=${encodeURIComponent(here)}`);
  throw new ApiError(401, 'UNAUTHORIZED', 'logging in');
}

async function send<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { credentials: 'same-origin', ...init });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `the gateway did not answer (${(error as Error).message}): is it running?`);
  }
  if (response.status === 401) toLogin();
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body as ErrorBody | undefined)?.error;
    const fields = (body as ErrorBody | undefined)?.fields;
    throw new ApiError(response.status, error?.code ?? 'HTTP', error?.message ?? `the gateway answered ${response.status}`, fields);
  }
  return body as T;
}

/** The URL path of a queue's API, with the name escaped for a path segment. */
export function queuePath(queue: string): string {
  return `${API_BASE}/queues/${encodeURIComponent(queue)}`;
}

export function taskPath(queue: string, id: string): string {
  return `${queuePath(queue)}/tasks/${encodeURIComponent(id)}`;
}

export class Api {
  constructor(public session: SessionInfo) {}

  static async connect(): Promise<Api> {
    return new Api(await send<SessionInfo>(`${API_BASE}/session`, {}));
  }

  get<T>(path: string): Promise<T> {
    return send<T>(path, {});
  }

  /** A state-changing call, with an optional JSON body. */
  async post<T>(path: string, body?: unknown): Promise<T> {
    const attempt = () =>
      send<T>(path, {
        method: 'POST',
        headers: { [CSRF_HEADER]: this.session.csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    try {
      return await attempt();
    } catch (error) {
      // A gateway restarted without a token hands out a new CSRF token: fetch it, try once more.
      if (!(error instanceof ApiError && error.code === 'FORBIDDEN')) throw error;
      this.session = await send<SessionInfo>(`${API_BASE}/session`, {});
      return attempt();
    }
  }
}

export interface StreamHandlers {
  /** Named events and their parsed data. */
  events: Record<string, (data: any) => void>;
  /** Whether the stream is connected (false while it reconnects). */
  live?: (live: boolean) => void;
}

/**
 * Opens an event stream; returns the function that closes it. The browser reconnects by
 * itself after a network error; a stream the server refused (the login expired, the
 * gateway restarted) is opened again after a pause, once a read says the session is fine.
 */
export function openStream(path: string, handlers: StreamHandlers): () => void {
  let source: EventSource | undefined;
  let retry: number | undefined;
  let closed = false;
  const open = () => {
    source = new EventSource(path);
    source.addEventListener('open', () => handlers.live?.(true));
    for (const [name, handler] of Object.entries(handlers.events)) {
      source.addEventListener(name, (event) => handler(JSON.parse((event as MessageEvent<string>).data)));
    }
    source.addEventListener('error', () => {
      handlers.live?.(false);
      if (source?.readyState !== EventSource.CLOSED || closed) return;
      retry = window.setTimeout(() => {
        void send(`${API_BASE}/session`, {}).then(
          () => !closed && open(),
          () => !closed && open(),
        );
      }, 3000);
    });
  };
  open();
  return () => {
    closed = true;
    window.clearTimeout(retry);
    source?.close();
  };
}
