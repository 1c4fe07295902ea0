/**
 * Byte pass-through to the Ollama provider's server, for the Ollama endpoints whose answers
 * describe that server itself (`/api/show`, `/api/ps`, `/api/pull`, `/api/version`, the legacy
 * `/api/embeddings`). Passing the bytes keeps every field a client such as the `ollama` CLI
 * reads (`model_info`, `license`, `modelfile`, pull progress) exactly as Ollama wrote it.
 * Chat and generation never come here: they go through the gateway.
 */
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { ProviderError } from '../core/errors.js';
import type { Exchange } from './exchange.js';
import { markFirstByte } from './exchange.js';

/** Headers worth passing back from Ollama. */
const PASS_HEADERS = ['content-type', 'retry-after'];

/** Talks to one Ollama server with its own connection pool. */
export class OllamaUpstream {
  private readonly agent: Agent;

  constructor(
    /** Ollama's base URL, without a trailing slash. */
    readonly baseUrl: string,
    /** The Ollama provider's phase timeouts (`0` = none): connect, then load (to the headers), then idle. */
    private readonly timeouts: { connectMs: number; loadMs: number; idleMs: number } = { connectMs: 5000, loadMs: 0, idleMs: 0 },
    /** The config key that names this server, for the unreachable message (a fleet host's is its `url`). */
    private readonly urlSetting = '[provider.ollama] base_url',
  ) {
    this.agent = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: timeouts.connectMs || undefined } });
  }

  /**
   * Sends one request and returns Ollama's response; a connection failure is `unavailable`.
   * `timed` applies the load and idle timeouts (generation); metadata calls run without them.
   */
  async send(method: 'GET' | 'POST' | 'HEAD', path: string, body: unknown, signal: AbortSignal, timed = false): Promise<Dispatcher.ResponseData> {
    try {
      return await request(`${this.baseUrl}${path}`, {
        method,
        dispatcher: this.agent,
        signal,
        headers: body === undefined ? { 'user-agent': 'omega-serve' } : { 'content-type': 'application/json', 'user-agent': 'omega-serve' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
        headersTimeout: timed ? this.timeouts.loadMs : 0,
        bodyTimeout: timed ? this.timeouts.idleMs : 0,
      });
    } catch (cause) {
      if (signal.aborted) throw new ProviderError({ provider: 'ollama', code: 'aborted', message: 'The request was cancelled.', cause });
      const code = (cause as { code?: string }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT') {
        throw new ProviderError({ provider: 'ollama', code: 'timeout', phase: 'load', message: `Ollama at ${this.baseUrl} sent nothing within the load timeout; raise [provider.ollama.timeouts] load.`, cause });
      }
      throw new ProviderError({
        provider: 'ollama',
        code: 'unavailable',
        message: `Ollama is not reachable at ${this.baseUrl}; start it with \`ollama serve\` or fix ${this.urlSetting}.`,
        cause,
      });
    }
  }

  /** Fetches JSON from Ollama; non-2xx answers become a ProviderError with Ollama's own text. */
  async json<T>(method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal): Promise<T> {
    const res = await this.send(method, path, body, signal);
    const text = await res.body.text();
    if (res.statusCode >= 400) throw upstreamError(res.statusCode, text);
    return JSON.parse(text) as T;
  }

  /**
   * Relays Ollama's answer to the client as it arrives (status, content type and body), so
   * NDJSON progress streams pass through line by line. A client that leaves cancels the upstream.
   */
  async relay(ex: Exchange, method: 'GET' | 'POST' | 'HEAD', path: string, body: unknown): Promise<void> {
    const res = await this.send(method, path, body, ex.signal);
    await relayResponse(ex, res, method);
  }

  /** Releases the pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * Writes an upstream answer to the client as it arrives (see {@link OllamaUpstream.relay});
 * `extra` headers are added (the fleet's `x-omega-host`).
 */
export async function relayResponse(ex: Exchange, res: Dispatcher.ResponseData, method: 'GET' | 'POST' | 'HEAD', extra: Record<string, string> = {}): Promise<void> {
  const headers: Record<string, string> = { ...extra };
  for (const name of PASS_HEADERS) {
    const value = res.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const length = res.headers['content-length'];
  if (typeof length === 'string') headers['content-length'] = length;
  if (res.statusCode >= 400) ex.errorCode ??= `upstream_${res.statusCode}`;
  markFirstByte(ex);
  ex.res.writeHead(res.statusCode, headers);
  if (method === 'HEAD') {
    await res.body.dump();
    ex.res.end();
    return;
  }
  try {
    for await (const part of res.body) {
      if (!ex.res.write(part)) await new Promise((resolve) => ex.res.once('drain', resolve).once('close', resolve));
      if (ex.res.destroyed) break;
    }
  } catch (error) {
    if (!ex.signal.aborted) ex.errorCode = 'connection_lost';
    ex.res.destroy(error instanceof Error ? error : undefined);
    return;
  }
  ex.res.end();
}

/** Ollama's error answer as a ProviderError carrying its status and text. */
export function upstreamError(status: number, text: string): ProviderError {
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // Not JSON (gin's plain-text 404/405): keep the text.
  }
  const code = status === 404 ? 'model_not_found' : status === 400 ? 'bad_request' : status === 503 ? 'busy' : status === 429 ? 'rate_limited' : 'server_error';
  return new ProviderError({ provider: 'ollama', code, status, message, providerMessage: message });
}
