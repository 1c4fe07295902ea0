/**
 * A fake OpenAI-compatible API (Chat Completions over SSE, `/models`) for provider tests. The
 * HTTP side is the scripted loopback server of fake-ollama.ts (real node:http on 127.0.0.1, a
 * random port); this module adds the OpenAI wire format: SSE bodies, chunk objects, tool-call
 * fragments, error shapes, and scripts that cut a body at chosen byte offsets.
 */
import net from 'node:net';
import type { Connector } from '../../src/http/transport.js';
import { FakeOllama } from './fake-ollama.js';
import type { Handler, RecordedRequest, Script, Step } from './fake-ollama.js';

export type { Handler, RecordedRequest, Script, Step };

/** SSE text of `events`: objects become `data: <json>`, strings are sent as the data verbatim. */
export function sse(...events: (object | string)[]): string {
  return events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
}

/** The terminating event. */
export const DONE = 'data: [DONE]\n\n';

/** Fields every chunk carries. */
function chunkBase(model: string): Record<string, unknown> {
  return { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_750_000_000, model };
}

/** A streamed chunk whose first choice has `delta`. */
export function deltaChunk(
  delta: Record<string, unknown>,
  opts: { finish?: string | null; model?: string } = {},
): Record<string, unknown> {
  return {
    ...chunkBase(opts.model ?? 'gpt-test'),
    choices: [{ index: 0, delta, logprobs: null, finish_reason: opts.finish ?? null }],
  };
}

/** A content delta. */
export function textChunk(content: string, model?: string): Record<string, unknown> {
  return deltaChunk({ content }, model === undefined ? {} : { model });
}

/** The chunk with the finish reason (empty delta). */
export function finishChunk(reason = 'stop', model?: string): Record<string, unknown> {
  return deltaChunk({}, { finish: reason, ...(model === undefined ? {} : { model }) });
}

/** The usage chunk `stream_options.include_usage` adds: no choices. */
export function usageChunk(prompt: number, completion: number, model = 'gpt-test'): Record<string, unknown> {
  return {
    ...chunkBase(model),
    choices: [],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

/** A tool call to stream: its arguments' JSON text is cut into `pieces` fragments. */
export interface FakeToolCall {
  id: string;
  name: string;
  /** The arguments as JSON text (may be deliberately invalid). */
  args: string;
}

/**
 * Tool-call chunks as OpenAI streams them: a first fragment per call with index, id, type and
 * name, then argument pieces; with `interleave`, the pieces of all calls alternate.
 */
export function toolCallChunks(calls: FakeToolCall[], pieces = 3, interleave = true): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const frags = calls.map((c) => {
    const size = Math.max(1, Math.ceil(c.args.length / pieces));
    const parts: string[] = [];
    for (let i = 0; i < c.args.length; i += size) parts.push(c.args.slice(i, i + size));
    return parts;
  });
  calls.forEach((c, index) => {
    out.push(
      deltaChunk({
        ...(index === 0 ? { role: 'assistant', content: null } : {}),
        tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }],
      }),
    );
    if (!interleave) {
      for (const p of frags[index] as string[]) out.push(deltaChunk({ tool_calls: [{ index, function: { arguments: p } }] }));
    }
  });
  if (interleave) {
    const longest = Math.max(...frags.map((f) => f.length));
    for (let i = 0; i < longest; i++) {
      frags.forEach((f, index) => {
        const p = f[i];
        if (p !== undefined) out.push(deltaChunk({ tool_calls: [{ index, function: { arguments: p } }] }));
      });
    }
  }
  return out;
}

/** A complete streamed answer of text `parts`: deltas, finish, usage, `[DONE]`. */
export function textStream(parts: string[], opts: { model?: string; finish?: string; usage?: [number, number] } = {}): string {
  const model = opts.model ?? 'gpt-test';
  const [p, c] = opts.usage ?? [10, parts.length];
  return (
    sse(deltaChunk({ role: 'assistant', content: '' }, { model }), ...parts.map((t) => textChunk(t, model))) +
    sse(finishChunk(opts.finish ?? 'stop', model), usageChunk(p, c, model)) +
    DONE
  );
}

/** A script sending `body` as `text/event-stream`, cut at the given byte offsets with a pause between pieces. */
export function sseScript(body: string | Buffer, cuts: number[] = [], pauseMs = 2): Script {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const steps: Step[] = [{ flush: true }];
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= at || cut >= bytes.length) continue;
    steps.push({ write: bytes.subarray(at, cut) }, { delay: pauseMs });
    at = cut;
  }
  steps.push({ write: bytes.subarray(at) });
  return { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }, steps };
}

/** A script that streams `prefix` and then never finishes (for idle timeouts, aborts, early exits). */
export function sseThenHang(prefix: string): Script {
  return {
    headers: { 'content-type': 'text/event-stream' },
    steps: [{ flush: true }, { write: prefix }, { hang: true }],
  };
}

/** An error response in OpenAI's shape. */
export function errorScript(
  status: number,
  message: string,
  opts: { type?: string; code?: string | number | null; headers?: Record<string, string> } = {},
): Script {
  return {
    status,
    ...(opts.headers === undefined ? {} : { headers: opts.headers }),
    body: { error: { message, type: opts.type ?? 'invalid_request_error', param: null, code: opts.code ?? null } },
  };
}

/** The fake API. Paths given to {@link route} and {@link once} are below the `/v1` base path. */
export class FakeOpenAI {
  private constructor(
    /** The underlying scripted HTTP server. */
    readonly server: FakeOllama,
  ) {}

  /** Starts a fake on 127.0.0.1 and a random free port. */
  static async start(): Promise<FakeOpenAI> {
    return new FakeOpenAI(await FakeOllama.start());
  }

  /** The base URL to configure: `http://127.0.0.1:<port>/v1`. */
  get url(): string {
    return `${this.server.url}/v1`;
  }

  /** Every request received, in order. */
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  /** TCP connections accepted so far. */
  get connections(): number {
    return this.server.connections;
  }

  /**
   * A connector that sends every connection, whatever host and scheme it was meant for, to this
   * fake in plain TCP: lets a provider keep its real `https://` default base URL in a test that
   * must not reach the internet.
   */
  get connector(): Connector {
    const port = Number(new URL(this.server.url).port);
    return ((_opts: unknown, callback: (err: Error | null, socket: net.Socket | null) => void) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => callback(null, socket));
      socket.once('error', (err) => callback(err, null));
      return socket;
    }) as unknown as Connector;
  }

  /** Answers every `method /v1<path>` request with `handler`. */
  route(method: string, path: string, handler: Handler): this {
    this.server.route(method, `/v1${path}`, handler);
    return this;
  }

  /** Answers the next `method /v1<path>` request with `handler`; queued in order. */
  once(method: string, path: string, handler: Handler): this {
    this.server.once(method, `/v1${path}`, handler);
    return this;
  }

  /** Requests to `/v1<path>`. */
  requestsTo(path: string): RecordedRequest[] {
    return this.server.requestsTo(`/v1${path}`);
  }

  /** The last request to `/v1<path>`. */
  last(path: string): RecordedRequest {
    const list = this.requestsTo(path);
    const r = list[list.length - 1];
    if (r === undefined) throw new Error(`fake-openai: no request to ${path}`);
    return r;
  }

  /** Waits until `predicate` holds (polling), or fails after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    return this.server.waitFor(predicate, timeoutMs, what);
  }

  /** Stops the server and destroys every connection. */
  close(): Promise<void> {
    return this.server.close();
  }
}
