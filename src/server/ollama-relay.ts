/**
 * The Ollama front end's pass-through to the Ollama provider: when a client speaking Ollama's
 * own protocol asks the Ollama provider for a model by its plain name, and names no
 * conversation, there is nothing to translate. The request body goes up with the provider's
 * configured options and keep_alive merged in, and Ollama's bytes come back unchanged, chunk
 * batches as they arrive. Only the last line is parsed, for the token counts.
 *
 * What the gateway path gives is kept: the provider's load and idle timeouts, fallback before
 * the first byte (a failure that another provider may cure hands the request to the gateway
 * path, which falls back), cancellation when the client leaves, an audit row, metrics. What
 * needs the answer's text (memory) takes the gateway path instead. Measured in
 * docs/benchmarks.md: translating every chunk costs most of the throughput a relay keeps.
 */
import { ProviderError } from '../core/errors.js';
import type { Exchange } from './exchange.js';
import { markFirstByte } from './exchange.js';
import type { RoutedChat } from './gateway-adapter.js';
import type { ServerContext } from './server.js';
import { upstreamError } from './upstream.js';

/** How much of the end of a stream is kept to find its last line. */
const TAIL_BYTES = 64 * 1024;

/** The provider's configured defaults applied under the client's own fields. */
function withDefaults(ctx: ServerContext, body: Record<string, unknown>): Record<string, unknown> {
  const cfg = ctx.gateway.gateway.config.provider.ollama;
  const out = { ...body };
  const base = cfg.options;
  if (base !== undefined && Object.keys(base).length > 0) {
    const own = typeof body.options === 'object' && body.options !== null ? (body.options as Record<string, unknown>) : {};
    out.options = { ...base, ...own };
  }
  if (out.keep_alive === undefined && cfg.keepAlive !== undefined) out.keep_alive = cfg.keepAlive;
  return out;
}

/** What the last line of a relayed answer says. */
interface LastLine {
  error?: string;
  done: boolean;
  promptTokens?: number;
  completionTokens?: number;
}

/**
 * Reads the last line of `tail` without parsing the whole of it (a non-streamed answer is one
 * long line): Ollama writes the metrics last, and a `"done":true` outside a string cannot
 * occur inside one (its quotes would be escaped there).
 */
function lastLine(tail: Buffer): LastLine {
  let end = tail.length;
  while (end > 0 && (tail[end - 1] === 0x0a || tail[end - 1] === 0x0d)) end--;
  const start = tail.lastIndexOf(0x0a, end - 1) + 1;
  if (tail.toString('latin1', start, Math.min(end, start + 9)) === '{"error":') {
    try {
      const parsed = JSON.parse(tail.toString('utf8', start, end)) as { error?: unknown };
      return { error: String(parsed.error), done: false };
    } catch {
      return { error: 'unreadable error line', done: false };
    }
  }
  const text = tail.toString('latin1', Math.max(start, end - 400), end);
  const out: LastLine = { done: text.includes('"done":true') };
  const p = /[,{]"prompt_eval_count":(\d+)/.exec(text);
  const e = /[,{]"eval_count":(\d+)/.exec(text);
  if (p !== null) out.promptTokens = Number(p[1]);
  if (e !== null) out.completionTokens = Number(e[1]);
  return out;
}

/**
 * Relays `/api/chat` or `/api/generate` to Ollama. Returns false, having written nothing,
 * when Ollama failed in a way worth falling back from: the caller then takes the gateway path.
 */
export async function relayGeneration(ctx: ServerContext, ex: Exchange, path: '/api/chat' | '/api/generate', body: Record<string, unknown>, routed: RoutedChat, model: string): Promise<boolean> {
  const upstream = ctx.upstream;
  if (upstream === undefined) return false;
  const started = performance.now();
  const stream = body.stream !== false;
  const audit = (outcome: string, extra: { errorMessage?: string; promptTokens?: number; completionTokens?: number } = {}): void =>
    ctx.gateway.auditRelay(routed, { provider: 'ollama', model, started, outcome, ...extra });
  let res;
  try {
    res = await upstream.send('POST', path, JSON.stringify(withDefaults(ctx, body)), ex.signal, true);
  } catch (error) {
    if (error instanceof ProviderError && error.retryable && !ex.signal.aborted) return false;
    audit(error instanceof ProviderError ? error.code : 'error', { errorMessage: error instanceof Error ? error.message : String(error) });
    throw error;
  }
  if (res.statusCode >= 400) {
    const text = await res.body.text();
    const error = upstreamError(res.statusCode, text);
    if (error.retryable) return false;
    audit(error.code, { errorMessage: error.message });
    ex.provider = 'ollama';
    ex.errorCode = error.code;
    markFirstByte(ex);
    ex.res.writeHead(res.statusCode, { 'content-type': 'application/json; charset=utf-8', 'x-omega-provider': 'ollama' });
    ex.res.end(text);
    return true;
  }
  ex.provider = 'ollama';
  markFirstByte(ex);
  const headers: Record<string, string> = { 'content-type': stream ? 'application/x-ndjson' : 'application/json; charset=utf-8', 'x-omega-provider': 'ollama' };
  // A whole answer with its length goes out in one write, not as chunked pieces.
  const length = res.headers['content-length'];
  if (typeof length === 'string') headers['content-length'] = length;
  ex.res.writeHead(200, headers);
  let tail: Buffer = Buffer.alloc(0);
  let failure: unknown;
  try {
    for await (const part of res.body) {
      const buf = part as Buffer;
      tail = buf.length >= TAIL_BYTES ? buf : Buffer.concat([tail.length > TAIL_BYTES ? tail.subarray(tail.length - TAIL_BYTES) : tail, buf]);
      if (!ex.res.write(buf)) await new Promise((resolve) => ex.res.once('drain', resolve).once('close', resolve));
      if (ex.res.destroyed) break;
    }
  } catch (error) {
    failure = error;
  }
  if (ex.signal.aborted || ex.res.destroyed) {
    // The client left: the request signal has already cancelled Ollama's generation.
    res.body.destroy();
    audit('aborted', { errorMessage: 'The client closed the connection.' });
    return true;
  }
  if (failure !== undefined) {
    const message = `Ollama's stream broke off mid-answer (${failure instanceof Error ? failure.message : String(failure)}); the answer is incomplete.`;
    ex.errorCode = 'connection_lost';
    audit('connection_lost', { errorMessage: message });
    if (stream) ex.res.end(`${JSON.stringify({ error: message })}\n`);
    else ex.res.destroy();
    return true;
  }
  ex.res.end();
  const last = lastLine(tail);
  if (last.error !== undefined) {
    ex.errorCode = 'upstream_error';
    audit('server_error', { errorMessage: last.error });
    return true;
  }
  const { promptTokens, completionTokens } = last;
  if (promptTokens !== undefined) ex.tokensIn = promptTokens;
  if (completionTokens !== undefined) ex.tokensOut = completionTokens;
  audit(last.done ? 'ok' : 'incomplete', {
    ...(promptTokens === undefined ? {} : { promptTokens }),
    ...(completionTokens === undefined ? {} : { completionTokens }),
  });
  return true;
}
