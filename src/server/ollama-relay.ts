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
import type { Dispatcher } from 'undici';
import { ProviderError } from '../core/errors.js';
import { conversationKey } from '../providers/ollama/fleet/conversation-key.js';
import type { Exchange } from './exchange.js';
import { markFirstByte } from './exchange.js';
import { HOST_HEADER } from './fleet-relay.js';
import type { RoutedChat } from './gateway-adapter.js';
import type { ServerContext } from './server.js';
import type { OllamaUpstream } from './upstream.js';
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

/**
 * The last bytes of a stream, kept as references to the pieces that carried them and joined
 * once at the end: copying the kept end into a new buffer for every piece cost a copy of up to
 * `TAIL_BYTES` per piece, and the garbage collections those buffers caused, on every relayed stream.
 */
export class Tail {
  private readonly parts: Buffer[] = [];
  private length = 0;

  constructor(private readonly keep: number) {}

  /** Adds the next piece; pieces no longer needed for the last `keep` bytes are let go. */
  push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.parts.push(buf);
    this.length += buf.length;
    let drop = 0;
    while (drop < this.parts.length - 1 && this.length - (this.parts[drop] as Buffer).length >= this.keep) {
      this.length -= (this.parts[drop] as Buffer).length;
      drop++;
    }
    if (drop > 0) this.parts.splice(0, drop);
  }

  /** At least the last `keep` bytes seen (all of them when fewer arrived), as one buffer. */
  bytes(): Buffer {
    if (this.parts.length === 1) return this.parts[0] as Buffer;
    return Buffer.concat(this.parts, this.length);
  }
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

/** Where one attempt of a relayed generation goes: the one Ollama, or a fleet host holding a slot. */
interface Target {
  upstream: OllamaUpstream;
  /** The fleet host, when the provider is a fleet. */
  host?: string;
  /** Gives a fleet slot back with the attempt's outcome (a no-op for one host). */
  release(outcome?: { error: unknown }): void;
}

/**
 * The next place to try: the one Ollama once; with a fleet, a slot on the best host not yet
 * tried, waiting in the model's queue when every slot is busy. Undefined when nothing is left.
 */
async function nextTarget(ctx: ServerContext, ex: Exchange, model: string, tried: Set<string>, stickyKey: string | undefined): Promise<Target | undefined> {
  const fleet = ctx.fleet;
  if (fleet === undefined) {
    if (ctx.upstream === undefined || tried.size > 0) return undefined;
    tried.add('');
    return { upstream: ctx.upstream, release: () => {} };
  }
  if (tried.size >= fleet.maxAttempts) return undefined;
  let lease;
  try {
    lease = await fleet.fleet.acquire(model, { exclude: tried, signal: ex.signal, ...(stickyKey === undefined ? {} : { stickyKey }) });
  } catch (error) {
    // Every host down (or the rest already tried): the gateway path may fall back to another provider.
    if (error instanceof ProviderError && !ex.signal.aborted && (error.code === 'unavailable' || (tried.size > 0 && error.code === 'model_not_found'))) return undefined;
    throw error;
  }
  tried.add(lease.host);
  return { upstream: fleet.upstream(lease.host), host: lease.host, release: (outcome) => lease.release(outcome) };
}

/**
 * Relays `/api/chat` or `/api/generate` to Ollama. Returns false, having written nothing,
 * when Ollama failed in a way worth falling back from: the caller then takes the gateway path.
 * With a fleet, a host that fails before the first byte is replaced by the next best one
 * (each failed attempt audited), up to `fleet.maxAttempts` hosts.
 */
export async function relayGeneration(ctx: ServerContext, ex: Exchange, path: '/api/chat' | '/api/generate', body: Record<string, unknown>, routed: RoutedChat, model: string): Promise<boolean> {
  if (ctx.upstream === undefined && ctx.fleet === undefined) return false;
  const started = performance.now();
  const stream = body.stream !== false;
  // Each row names the fleet host it is about (the one being tried), when there is a fleet.
  let auditHost: string | undefined;
  const audit = (outcome: string, extra: { errorMessage?: string; promptTokens?: number; completionTokens?: number; host?: string } = {}): void =>
    ctx.gateway.auditRelay(routed, { provider: 'ollama', model, started, outcome, ...(auditHost === undefined ? {} : { host: auditHost }), ...extra });
  const payload = JSON.stringify(withDefaults(ctx, body));
  const tried = new Set<string>();
  // A named conversation keeps its host; otherwise `/api/chat`'s opening messages name it (`/api/generate` has none).
  const stickyKey = routed.conversationId ?? (path === '/api/chat' && ctx.fleet !== undefined ? conversationKey(model, body.messages) : undefined);
  let target: Target | undefined;
  let res: Dispatcher.ResponseData | undefined;
  let last: ProviderError | undefined;
  while (res === undefined) {
    target = await nextTarget(ctx, ex, model, tried, stickyKey);
    if (target === undefined) {
      // Nothing left to try. One Ollama: the gateway path retries it and falls back. A fleet whose
      // tried hosts all failed: only another provider can help, so without one the failure stands.
      if (last !== undefined && ctx.fleet !== undefined && ctx.gateway.gateway.config.provider.fallback.length === 0) {
        // Not audited again: its host's row, written when it failed, is the failure's row.
        throw last;
      }
      return false;
    }
    const t: Target = target;
    auditHost = t.host;
    const failedOver = (error: ProviderError): void => {
      if (t.host === undefined) return;
      audit(error.code, { errorMessage: error.message });
      ctx.fleet?.failedOver(t.host, error, model);
      last = error;
    };
    let answer: Dispatcher.ResponseData;
    try {
      answer = await t.upstream.send('POST', path, payload, ex.signal, true);
    } catch (error) {
      t.release({ error });
      if (error instanceof ProviderError && error.retryable && !ex.signal.aborted) {
        if (t.host === undefined) return false;
        failedOver(error);
        continue;
      }
      audit(error instanceof ProviderError ? error.code : 'error', { errorMessage: error instanceof Error ? error.message : String(error) });
      throw error;
    }
    if (answer.statusCode >= 400) {
      const text = await answer.body.text();
      const error = upstreamError(answer.statusCode, text);
      t.release({ error });
      if (error.retryable || (t.host !== undefined && error.code === 'model_not_found')) {
        // One Ollama: the gateway path decides. A fleet host that refused: the next host may not.
        if (t.host === undefined) return false;
        if (error.retryable || tried.size < (ctx.fleet?.maxAttempts ?? 1)) {
          failedOver(error);
          continue;
        }
      }
      audit(error.code, { errorMessage: error.message });
      ex.provider = 'ollama';
      ex.errorCode = error.code;
      markFirstByte(ex);
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'x-omega-provider': 'ollama' };
      if (t.host !== undefined) headers[HOST_HEADER] = t.host;
      ex.res.writeHead(answer.statusCode, headers);
      ex.res.end(text);
      return true;
    }
    res = answer;
  }
  const host = target?.host;
  const release = (outcome?: { error: unknown }): void => target?.release(outcome);
  ex.provider = 'ollama';
  markFirstByte(ex);
  const headers: Record<string, string> = { 'content-type': stream ? 'application/x-ndjson' : 'application/json; charset=utf-8', 'x-omega-provider': 'ollama' };
  if (host !== undefined) headers[HOST_HEADER] = host;
  // A whole answer with its length goes out in one write, not as chunked pieces.
  const length = res.headers['content-length'];
  if (typeof length === 'string') headers['content-length'] = length;
  ex.res.writeHead(200, headers);
  const tail = new Tail(TAIL_BYTES);
  let failure: unknown;
  try {
    for await (const part of res.body) {
      const buf = part as Buffer;
      tail.push(buf);
      if (!ex.res.write(buf)) await new Promise((resolve) => ex.res.once('drain', resolve).once('close', resolve));
      if (ex.res.destroyed) break;
    }
  } catch (error) {
    failure = error;
  }
  if (ex.signal.aborted || ex.res.destroyed) {
    // The client left: the request signal has already cancelled Ollama's generation.
    res.body.destroy();
    release({ error: new ProviderError({ provider: 'ollama', code: 'aborted', message: 'The client closed the connection.' }) });
    audit('aborted', { errorMessage: 'The client closed the connection.' });
    return true;
  }
  if (failure !== undefined) {
    const message = `Ollama${host === undefined ? '' : ` at ${host}`}'s stream broke off mid-answer (${failure instanceof Error ? failure.message : String(failure)}); the answer is incomplete.`;
    release({ error: new ProviderError({ provider: 'ollama', code: 'connection_lost', message }) });
    ex.errorCode = 'connection_lost';
    audit('connection_lost', { errorMessage: message });
    if (stream) ex.res.end(`${JSON.stringify({ error: message })}\n`);
    else ex.res.destroy();
    return true;
  }
  ex.res.end();
  const end = lastLine(tail.bytes());
  if (end.error !== undefined) {
    // Ollama answered, then reported an error in the stream: the host is alive.
    release();
    ex.errorCode = 'upstream_error';
    audit('server_error', { errorMessage: end.error });
    return true;
  }
  release();
  const { promptTokens, completionTokens } = end;
  if (promptTokens !== undefined) ex.tokensIn = promptTokens;
  if (completionTokens !== undefined) ex.tokensOut = completionTokens;
  audit(end.done ? 'ok' : 'incomplete', {
    ...(promptTokens === undefined ? {} : { promptTokens }),
    ...(completionTokens === undefined ? {} : { completionTokens }),
  });
  return true;
}
