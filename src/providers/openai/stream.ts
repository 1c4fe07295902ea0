/**
 * The streamed Chat Completions reader: SSE events to {@link ChatChunk}s, tool calls assembled
 * from their fragments, usage from the last chunk, `[DONE]` as the end.
 */
import type { ChatChunk, Usage } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { HttpResponse, ResponseBody } from '../../http/transport.js';
import { sseFramer } from '../shared/sse-framer.js';
import { readFrames, settleBody } from '../shared/stream-body.js';
import type { SseEvent } from '../../http/sse.js';
import type { ApiErrorContext } from './errors.js';
import { fromStreamError, protocolError, toProviderError } from './errors.js';
import { ToolCallAssembler, toUsage } from './wire.js';
import type { WireChoice, WireCompletion, WireDelta } from './types.js';

/**
 * What one answer has said so far. Fed chunk objects (or one whole completion), it returns the
 * deltas worth passing on and builds the final chunk.
 */
export class CompletionState {
  /** Answer text so far, for `partialText` when the stream fails. */
  text = '';
  /** Model as reported by the server (the requested one until it says otherwise). */
  model: string;
  /** The choice's `finish_reason`, once sent. */
  finishReason: string | undefined = undefined;
  /** True once `data: [DONE]` arrived. */
  sawDone = false;
  private usage: Usage | undefined = undefined;
  private readonly tools = new ToolCallAssembler();

  constructor(
    model: string,
    private readonly ctx: ApiErrorContext,
  ) {
    this.model = model;
  }

  /** True once the answer is complete (finish reason or `[DONE]` seen): losing the rest loses nothing but usage. */
  get complete(): boolean {
    return this.sawDone || this.finishReason !== undefined;
  }

  /** One SSE event; throws a ProviderError for error events and unreadable data. */
  acceptEvent(ev: SseEvent): ChatChunk | undefined {
    const data = ev.data;
    if (data === '[DONE]') {
      this.sawDone = true;
      return undefined;
    }
    if (data.trim() === '') return undefined;
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch {
      if (ev.event === 'error') throw fromStreamError(data, this.ctx, this.text);
      // No cause: V8's SyntaxError quotes the start of the data, which is server text.
      throw protocolError('an event whose data is not JSON', this.ctx, undefined, this.text);
    }
    if (ev.event === 'error') throw fromStreamError(obj, this.ctx, this.text);
    if (typeof obj !== 'object' || obj === null) {
      throw protocolError('an event whose data is not a JSON object', this.ctx, undefined, this.text);
    }
    return this.accept(obj as WireCompletion, false);
  }

  /** One chunk object (`whole` false) or a whole non-streamed completion (`whole` true). */
  accept(obj: WireCompletion, whole: boolean): ChatChunk | undefined {
    if ((obj.error !== undefined && obj.error !== null) || obj.object === 'error') {
      throw fromStreamError(obj, this.ctx, this.text);
    }
    if (typeof obj.model === 'string' && obj.model !== '') this.model = obj.model;
    if (obj.usage !== undefined && obj.usage !== null) this.usage = toUsage(obj.usage);
    const choices = obj.choices;
    if (!Array.isArray(choices) || choices.length === 0) return undefined;
    // Only the first choice: Omega never asks for n > 1.
    const choice = (choices.find((c: WireChoice | null) => c?.index === 0) ?? choices[0]) as WireChoice | null;
    if (typeof choice !== 'object' || choice === null) return undefined;
    const d: WireDelta | undefined = whole ? choice.message : choice.delta;
    let content = '';
    let thinking = '';
    if (typeof d === 'object' && d !== null) {
      if (typeof d.content === 'string') content = d.content;
      // A refusal is what the user gets instead of an answer: show it as the answer.
      if (typeof d.refusal === 'string') content += d.refusal;
      if (typeof d.reasoning_content === 'string') thinking = d.reasoning_content;
      else if (typeof d.reasoning === 'string') thinking = d.reasoning;
      if (Array.isArray(d.tool_calls) && d.tool_calls.length > 0) this.tools.add(d.tool_calls);
    }
    const finish = choice.finish_reason;
    if (typeof finish === 'string' && finish !== '') {
      if (finish === 'error') throw fromStreamError({ message: 'the model stopped with an error' }, this.ctx, this.text + content);
      this.finishReason = finish;
    }
    if (content === '' && thinking === '') return undefined;
    this.text += content;
    const chunk: ChatChunk = { content, done: false, model: this.model };
    if (thinking !== '') chunk.thinking = thinking;
    return chunk;
  }

  /** The final chunk: finish reason (`incomplete` when the server never gave one), tool calls, usage. */
  final(): ChatChunk {
    const chunk: ChatChunk = {
      content: '',
      done: true,
      doneReason: this.finishReason ?? (this.sawDone ? 'stop' : 'incomplete'),
      model: this.model,
    };
    if (this.tools.size > 0) chunk.toolCalls = this.tools.finish(this.ctx, this.finishReason === 'length', this.text);
    if (this.usage !== undefined) chunk.usage = this.usage;
    return chunk;
  }
}

/** What {@link streamCompletion} needs. */
export interface StreamParams {
  /** Sends the request; resolves on a 2xx response and throws a mapped ProviderError otherwise. */
  open: () => Promise<HttpResponse>;
  ctx: ApiErrorContext;
  /** The requested model, reported until the server names its own. */
  model: string;
  logger: Logger;
}

/**
 * Streams one answer. The request is sent on the first `next()`; the last chunk has `done: true`
 * (with `doneReason: 'incomplete'` if the body ended before the answer did). Leaving the loop
 * early cancels the request, or, once the answer is complete, lets the last bytes arrive so the
 * connection can be reused.
 */
export async function* streamCompletion(p: StreamParams): AsyncGenerator<ChatChunk> {
  const res = await p.open();
  const body = res.body;
  const state = new CompletionState(p.model, p.ctx);
  try {
    const type = res.headers['content-type'];
    if (typeof type === 'string' && /\bjson\b/i.test(type)) {
      // A server that ignores `stream: true` answers with one completion.
      const chunk = await acceptWhole(body, state, p.ctx);
      if (chunk !== undefined) yield chunk;
      yield state.final();
      return;
    }
    const frames = readFrames(body, sseFramer(), {
      fail: (error) => toProviderError(error, p.ctx, state.text),
      complete: () => state.complete,
    });
    for await (const events of frames) {
      for (let i = 0; i < events.length && !state.sawDone; i++) {
        const chunk = state.acceptEvent(events[i] as SseEvent);
        if (chunk !== undefined) yield chunk;
      }
      if (state.sawDone) break;
    }
    if (!state.complete) p.logger.debug({ model: p.model }, 'stream ended before the answer was complete');
    yield state.final();
  } finally {
    settleBody(body, state.complete);
  }
}

async function acceptWhole(body: ResponseBody, state: CompletionState, ctx: ApiErrorContext): Promise<ChatChunk | undefined> {
  let text: string;
  try {
    text = await body.text();
  } catch (error) {
    throw toProviderError(error, ctx);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    // No cause: V8's SyntaxError quotes the start of the body, which is server text.
    throw protocolError(text.trim() === '' ? 'an empty body' : 'malformed JSON', ctx);
  }
  if (typeof obj !== 'object' || obj === null) throw protocolError('a body that is not a JSON object', ctx);
  const completion = obj as WireCompletion;
  const isError = (completion.error !== undefined && completion.error !== null) || completion.object === 'error';
  if (!isError && !Array.isArray(completion.choices)) throw protocolError('a JSON answer without "choices"', ctx);
  return state.accept(completion, true);
}
