/**
 * An in-process fake of Anthropic's Messages API: a real node:http server on 127.0.0.1 (random
 * port) that checks `x-api-key`, answers `/v1/messages` in the SSE wire format (or as one Message
 * object when the request did not ask to stream) and `/v1/models` in pages, as each test scripts.
 * It records every request and notices when a client hangs up early.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The key the fake accepts unless a test says otherwise. */
export const FAKE_KEY = 'sk-ant-api03-FAKEKEYfakekey0123456789abcdefXYZ';

/** One step of a scripted body. */
export type Step =
  | { write: string | Buffer }
  | { delay: number }
  | { reset: true }
  | { hang: true };

/** How the fake answers one request. */
export interface Script {
  status?: number;
  headers?: Record<string, string>;
  /** Waits this long before sending the headers. */
  delayMs?: number;
  /** Never answers at all. */
  hang?: boolean;
  /** A whole body; objects are sent as JSON. */
  body?: string | object;
  /** A body sent step by step (`text/event-stream` unless headers say otherwise). */
  steps?: Step[];
}

/** A request the fake received. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  json: unknown;
  closedEarly: boolean;
  over: boolean;
}

/** A script, or a function of the request that returns one. */
export type Handler = Script | ((req: RecordedRequest) => Script);

/** One SSE event as Anthropic writes it. */
export function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** What a scripted answer contains, block by block. */
export type AnswerBlock =
  | { text: string[] }
  | { thinking: string[]; signature?: string }
  | { tool: { id: string; name: string; json: string[] } };

/** A scripted answer. */
export interface Answer {
  model?: string;
  blocks: AnswerBlock[];
  stopReason?: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
}

/** The SSE events of `answer`, in the order the API sends them (with a ping, as it does). */
export function answerEvents(answer: Answer): string[] {
  const model = answer.model ?? 'claude-sonnet-4-5-20250929';
  const usage: Record<string, number> = { input_tokens: answer.inputTokens ?? 12, output_tokens: 1 };
  if (answer.cacheReadTokens !== undefined) usage.cache_read_input_tokens = answer.cacheReadTokens;
  const out: string[] = [
    sse('message_start', {
      type: 'message_start',
      message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage },
    }),
    sse('ping', { type: 'ping' }),
  ];
  answer.blocks.forEach((block, index) => {
    if ('text' in block) {
      out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
      for (const t of block.text) {
        out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } }));
      }
    } else if ('thinking' in block) {
      out.push(
        sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '' } }),
      );
      for (const t of block.thinking) {
        out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: t } }));
      }
      out.push(
        sse('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'signature_delta', signature: block.signature ?? 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' },
        }),
      );
    } else {
      out.push(
        sse('content_block_start', {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: block.tool.id, name: block.tool.name, input: {} },
        }),
      );
      for (const j of block.tool.json) {
        out.push(
          sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: j } }),
        );
      }
    }
    out.push(sse('content_block_stop', { type: 'content_block_stop', index }));
  });
  out.push(
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: answer.stopReason ?? 'end_turn', stop_sequence: null },
      usage: { output_tokens: answer.outputTokens ?? 34 },
    }),
  );
  out.push(sse('message_stop', { type: 'message_stop' }));
  return out;
}

/** `answer` as the non-streamed Message object. */
export function answerMessage(answer: Answer): Record<string, unknown> {
  const content = answer.blocks.map((b) => {
    if ('text' in b) return { type: 'text', text: b.text.join('') };
    if ('thinking' in b) return { type: 'thinking', thinking: b.thinking.join(''), signature: b.signature ?? 'sig' };
    return { type: 'tool_use', id: b.tool.id, name: b.tool.name, input: JSON.parse(b.tool.json.join('') || '{}') as unknown };
  });
  const usage: Record<string, number> = { input_tokens: answer.inputTokens ?? 12, output_tokens: answer.outputTokens ?? 34 };
  if (answer.cacheReadTokens !== undefined) usage.cache_read_input_tokens = answer.cacheReadTokens;
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: answer.model ?? 'claude-sonnet-4-5-20250929',
    content,
    stop_reason: answer.stopReason ?? 'end_turn',
    stop_sequence: null,
    usage,
  };
}

/** A handler answering `answer` streamed or whole, as the request asked. */
export function answerWith(answer: Answer): Handler {
  return (req) => {
    if ((req.json as { stream?: unknown } | undefined)?.stream === true) {
      return { steps: [{ write: answerEvents(answer).join('') }] };
    }
    return { body: answerMessage(answer) };
  };
}

/** An Anthropic error body. */
export function errorBody(type: string, message: string): Record<string, unknown> {
  return { type: 'error', error: { type, message }, request_id: 'req_011' };
}

/** The fake server. */
export class FakeAnthropic {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** The key requests must carry; `null` turns the check off. */
  key: string | null = FAKE_KEY;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly routes = new Map<string, Handler>();
  private readonly onceRoutes = new Map<string, Handler[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private port = 0;

  private constructor() {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts a fake on 127.0.0.1 and a random free port. */
  static async start(): Promise<FakeAnthropic> {
    const fake = new FakeAnthropic();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
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

  /** The last request to `path`. */
  last(path: string): RecordedRequest {
    const r = this.requests.filter((q) => q.path === path).at(-1);
    if (r === undefined) throw new Error(`fake-anthropic: no request to ${path}`);
    return r;
  }

  /** Waits until `predicate` holds (polling), or fails after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const start = Date.now();
    while (!predicate()) {
      if (Date.now() - start > timeoutMs) throw new Error(`fake-anthropic: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Stops the server and destroys every connection. */
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
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      json,
      closedEarly: false,
      over: false,
    };
    this.requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.closedEarly = true;
      record.over = true;
    });
    let script: Script;
    if (this.key !== null && req.headers['x-api-key'] !== this.key) {
      script = { status: 401, body: errorBody('authentication_error', 'invalid x-api-key') };
    } else {
      const key = `${record.method} ${record.path}`;
      const queued = this.onceRoutes.get(key);
      const handler = queued !== undefined && queued.length > 0 ? queued.shift() : this.routes.get(key);
      if (handler === undefined) script = { status: 404, body: errorBody('not_found_error', 'Not found') };
      else script = typeof handler === 'function' ? handler(record) : handler;
    }
    await this.play(script, req, res);
  }

  private async play(script: Script, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (script.delayMs !== undefined) await this.sleep(script.delayMs);
    if (this.closed || res.destroyed || script.hang === true) return;
    const status = script.status ?? 200;
    if (script.steps === undefined) {
      const body = script.body ?? '';
      const isObject = typeof body === 'object';
      res.writeHead(status, {
        'content-type': isObject ? 'application/json' : 'text/plain; charset=utf-8',
        ...script.headers,
      });
      res.end(isObject ? JSON.stringify(body) : body);
      return;
    }
    res.writeHead(status, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...script.headers });
    res.flushHeaders();
    for (const step of script.steps) {
      if (this.closed || res.destroyed) return;
      if ('write' in step) {
        await new Promise<void>((resolve) => {
          if (res.write(step.write)) return resolve();
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      } else if ('delay' in step) {
        await this.sleep(step.delay);
      } else if ('reset' in step) {
        req.socket.resetAndDestroy();
        return;
      } else {
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
