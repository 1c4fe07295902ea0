/**
 * An in-process fake of Anthropic's Messages API: a real node:http server on 127.0.0.1 (random
 * port) that checks `x-api-key`, answers `/v1/messages` in the SSE wire format (or as one Message
 * object when the request did not ask to stream) and `/v1/models` in pages, as each test scripts.
 * It is the shared scripted server of fake-ollama.ts with an API-key guard, Anthropic's 404
 * body and SSE headers; it records every request and notices when a client hangs up early.
 */
import { FakeOllama } from './fake-ollama.js';
import type { Handler, RecordedRequest } from './fake-ollama.js';

/** The key the fake accepts unless a test says otherwise. */
export const FAKE_KEY = 'sk-ant-api03-FAKEKEYfakekey0123456789abcdefXYZ';

/** Scripts, handlers and recorded requests are those of the shared scripted server. */
export type { Handler, RecordedRequest, Script, Step } from './fake-ollama.js';
export { unusedPort } from './fake-ollama.js';

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
  private constructor(
    /** The underlying scripted HTTP server. */
    readonly server: FakeOllama,
    private readonly auth: { key: string | null },
  ) {}

  /** Starts a fake on 127.0.0.1 and a random free port. */
  static async start(): Promise<FakeAnthropic> {
    const auth: { key: string | null } = { key: FAKE_KEY };
    const server = await FakeOllama.start({
      guard: (req) =>
        auth.key !== null && req.headers['x-api-key'] !== auth.key
          ? { status: 401, body: errorBody('authentication_error', 'invalid x-api-key') }
          : undefined,
      notFound: { status: 404, body: errorBody('not_found_error', 'Not found') },
      streamHeaders: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
      flushStreamHeaders: true,
    });
    return new FakeAnthropic(server, auth);
  }

  /** The key requests must carry; `null` turns the check off. */
  get key(): string | null {
    return this.auth.key;
  }

  set key(value: string | null) {
    this.auth.key = value;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return this.server.url;
  }

  /** Every request received, in order. */
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  /** Answers every `method path` request with `handler` (after any {@link once} handlers). */
  route(method: string, path: string, handler: Handler): this {
    this.server.route(method, path, handler);
    return this;
  }

  /** Answers the next `method path` request with `handler`; queued in order. */
  once(method: string, path: string, handler: Handler): this {
    this.server.once(method, path, handler);
    return this;
  }

  /** The last request to `path`. */
  last(path: string): RecordedRequest {
    const r = this.server.requestsTo(path).at(-1);
    if (r === undefined) throw new Error(`fake-anthropic: no request to ${path}`);
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
