/**
 * An in-process fake Ollama: a real node:http server on 127.0.0.1 (random port) whose answers
 * each test scripts: status, headers, a body sent whole or in timed pieces, connection resets
 * and hangs. It records every request and notices when a client hangs up early.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One step of a scripted body. */
export type Step =
  /** Writes bytes (headers go out with the first write). */
  | { write: string | Buffer }
  /** Waits. */
  | { delay: number }
  /** Sends the headers now, before any body. */
  | { flush: true }
  /** Destroys the connection with a TCP reset. */
  | { reset: true }
  /** Stops here and never ends the response (until the fake is closed). */
  | { hang: true };

/** How the fake answers one request. */
export interface Script {
  status?: number;
  headers?: Record<string, string>;
  /** Waits this long before doing anything. */
  delayMs?: number;
  /** Never answers at all. */
  hang?: boolean;
  /** Resets the connection before sending anything. */
  reset?: boolean;
  /** A whole body; objects are sent as JSON with `application/json; charset=utf-8`. */
  body?: string | Buffer | object;
  /** A body sent step by step with chunked encoding (`application/x-ndjson` unless headers say otherwise). */
  steps?: Step[];
}

/** A request the fake received. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string, parsed. */
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, when it was JSON. */
  json: unknown;
  /** True when the client hung up before the response was finished. */
  closedEarly: boolean;
  /** True once the exchange is over (finished or closed). */
  over: boolean;
}

/** A script, or a function of the request that returns one. */
export type Handler = Script | ((req: RecordedRequest) => Script | Promise<Script>);

/** NDJSON text of `values`, one per line. */
export function ndjson(...values: unknown[]): string {
  return values.map((v) => `${JSON.stringify(v)}\n`).join('');
}

/** A streamed chat chunk as Ollama 0.9.6 writes it. */
export function chatLine(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'llama3',
    created_at: '2025-07-07T20:22:19.184789Z',
    message: { role: 'assistant', content },
    done: false,
    ...extra,
  };
}

/** A final chat chunk with metrics (nanoseconds). */
export function doneLine(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'llama3',
    created_at: '2025-07-07T20:22:20.000000Z',
    message: { role: 'assistant', content: '' },
    done_reason: 'stop',
    done: true,
    total_duration: 2_000_000_000,
    load_duration: 500_000_000,
    prompt_eval_count: 10,
    prompt_eval_duration: 100_000_000,
    eval_count: 20,
    eval_duration: 1_000_000_000,
    ...extra,
  };
}

/**
 * A chat answer like Ollama gives it: NDJSON chunks when the request streams, and when it sent
 * `stream: false` one object with the content (and thinking, tool calls) concatenated and the
 * final chunk's metrics, as Ollama aggregates server-side.
 */
export function chatAnswer(lines: Record<string, unknown>[]): Handler {
  return (req) => {
    if ((req.json as { stream?: unknown } | undefined)?.stream !== false) return { steps: [{ write: ndjson(...lines) }] };
    let content = '';
    let thinking = '';
    const toolCalls: unknown[] = [];
    for (const l of lines) {
      const m = l.message as { content?: string; thinking?: string; tool_calls?: unknown[] } | undefined;
      content += m?.content ?? '';
      thinking += m?.thinking ?? '';
      if (m?.tool_calls) toolCalls.push(...m.tool_calls);
    }
    const last = lines.at(-1) ?? {};
    const message: Record<string, unknown> = { role: 'assistant', content };
    if (thinking !== '') message.thinking = thinking;
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    return { body: { ...last, message } };
  };
}

/** {@link chatAnswer} of text `parts` followed by {@link doneLine}. */
export function chatText(parts: string[], done: Record<string, unknown> = {}): Handler {
  return chatAnswer([...parts.map((p) => chatLine(p)), doneLine(done)]);
}

/**
 * A chat answer of text `parts` then {@link doneLine}, streamed or not as the request asked.
 * (Kept under this name for existing callers; same as {@link chatText}.)
 */
export function chatStreamScript(parts: string[], done: Record<string, unknown> = {}): Handler {
  return chatText(parts, done);
}

/** What makes the scripted server speak another API than Ollama's (see fake-anthropic.ts). */
export interface FakeServerOptions {
  /** Looked at before routing: a script returned here answers the request instead (an auth check). */
  guard?: (req: RecordedRequest) => Script | undefined;
  /** The answer for an unrouted path; gin's plain-text 404 by default. */
  notFound?: Script;
  /** Headers of a stepped (streamed) body; `application/x-ndjson` by default. */
  streamHeaders?: Record<string, string>;
  /** Send a stepped body's headers at once, before its first step (as SSE servers do). */
  flushStreamHeaders?: boolean;
}

/** The fake server. */
export class FakeOllama {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly routes = new Map<string, Handler>();
  private readonly onceRoutes = new Map<string, Handler[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlightByPath = new Map<string, number>();
  private readonly maxInFlightByPath = new Map<string, number>();
  private closed = false;
  private connectionCount = 0;
  private port = 0;

  private constructor(private readonly options: FakeServerOptions = {}) {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (socket: Socket) => {
      this.connectionCount++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts a fake on 127.0.0.1 and a random free port. */
  static async start(options: FakeServerOptions = {}): Promise<FakeOllama> {
    const fake = new FakeOllama(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** TCP connections accepted so far. */
  get connections(): number {
    return this.connectionCount;
  }

  /** TCP connections open now. */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Most requests to `path` that were being answered at the same time. */
  maxInFlight(path: string): number {
    return this.maxInFlightByPath.get(path) ?? 0;
  }

  /** Answers every `method path` request with `handler` (after any {@link once} handlers). */
  route(method: string, path: string, handler: Handler): this {
    this.routes.set(`${method} ${path}`, handler);
    return this;
  }

  /** Answers the next `method path` request with `handler`; queued in order. */
  once(method: string, path: string, handler: Handler): this {
    const key = `${method} ${path}`;
    const list = this.onceRoutes.get(key) ?? [];
    list.push(handler);
    this.onceRoutes.set(key, list);
    return this;
  }

  /** Requests to `path`. */
  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Waits until `predicate` holds (polling), or fails after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const start = Date.now();
    while (!predicate()) {
      if (Date.now() - start > timeoutMs) throw new Error(`fake-ollama: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stops the server and destroys every connection, pending scripts included. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      query: url.searchParams,
      headers: req.headers,
      text,
      json,
      closedEarly: false,
      over: false,
    };
    this.requests.push(record);
    const inFlight = (this.inFlightByPath.get(path) ?? 0) + 1;
    this.inFlightByPath.set(path, inFlight);
    this.maxInFlightByPath.set(path, Math.max(inFlight, this.maxInFlightByPath.get(path) ?? 0));
    res.on('close', () => {
      if (!res.writableFinished) record.closedEarly = true;
      record.over = true;
      this.inFlightByPath.set(path, (this.inFlightByPath.get(path) ?? 1) - 1);
    });

    // A guard (an auth check) answers before routing, so a queued once-handler is not used up.
    let script = this.options.guard?.(record);
    if (script === undefined) {
      const key = `${record.method} ${path}`;
      const queued = this.onceRoutes.get(key);
      const handler = queued !== undefined && queued.length > 0 ? queued.shift() : this.routes.get(key);
      if (handler === undefined) {
        // gin's answer for an unknown path.
        script = this.options.notFound ?? { status: 404, headers: { 'content-type': 'text/plain' }, body: '404 page not found' };
      } else {
        script = typeof handler === 'function' ? await handler(record) : handler;
      }
    }
    await this.play(script, req, res);
  }

  private async play(script: Script, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (script.delayMs !== undefined) await this.sleep(script.delayMs);
    if (this.closed || res.destroyed) return;
    if (script.hang === true) return;
    if (script.reset === true) {
      req.socket.resetAndDestroy();
      return;
    }
    const status = script.status ?? 200;
    if (script.steps === undefined) {
      const body = script.body ?? '';
      const isObject = typeof body === 'object' && !Buffer.isBuffer(body);
      const payload = isObject ? JSON.stringify(body) : body;
      res.writeHead(status, {
        'content-type': isObject ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
        ...script.headers,
      });
      res.end(payload);
      return;
    }
    res.writeHead(status, { ...(this.options.streamHeaders ?? { 'content-type': 'application/x-ndjson' }), ...script.headers });
    if (this.options.flushStreamHeaders === true) res.flushHeaders();
    for (const step of script.steps) {
      if (this.closed || res.destroyed) return;
      if ('write' in step) {
        await new Promise<void>((resolve) => {
          if (res.write(step.write)) return resolve();
          // Whichever comes first; the other listener is removed so they do not pile up per step.
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      } else if ('delay' in step) {
        await this.sleep(step.delay);
      } else if ('flush' in step) {
        res.flushHeaders();
      } else if ('reset' in step) {
        req.socket.resetAndDestroy();
        return;
      } else if ('hang' in step) {
        return;
      }
    }
    if (!this.closed && !res.destroyed) res.end();
  }
}

/** A loopback port nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
