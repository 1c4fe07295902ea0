/**
 * `omega serve`'s HTTP server (node:http, chosen by measurement: docs/benchmarks.md): routing to
 * the three front ends, bearer-token auth, the Host check, CORS, body and header limits,
 * deliberate server timeouts, `/metrics`, `/healthz`, `/readyz`, one access-log line per
 * request, and a graceful drain on shutdown.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ServerConfig } from '../config/server.js';
import { isLoopbackHost } from '../config/server.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { OllamaProvider } from '../providers/ollama/index.js';
import { OllamaFleet } from '../providers/ollama/fleet/index.js';
import { registerAnthropic } from './anthropic-api.js';
import type { FrontEnd } from './errors.js';
import { HttpError } from './errors.js';
import type { Exchange } from './exchange.js';
import { sendError, sendJson, sendText } from './exchange.js';
import { attachFleetMetrics } from './fleet-metrics.js';
import { FleetRelay } from './fleet-relay.js';
import type { GatewayAnswer, ServerGateway } from './gateway-adapter.js';
import { ServerMetrics } from './metrics.js';
import { registerOllama } from './ollama-api.js';
import { registerOpenAI } from './openai-api.js';
import { OllamaUpstream } from './upstream.js';

/** A request handler of one front end. */
export type Handler = (ex: Exchange) => Promise<void> | void;

/** What the front ends share. */
export interface ServerContext {
  readonly gateway: ServerGateway;
  readonly config: ServerConfig;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** The Ollama provider's server, when that provider is enabled with one host. */
  readonly upstream: OllamaUpstream | undefined;
  /** The Ollama provider's hosts, when it is a fleet (`[[provider.ollama.hosts]]`); then `upstream` is unset. */
  readonly fleet: FleetRelay | undefined;
  /** The version `/api/version` reports when Ollama cannot be asked. */
  readonly version: string;
  /** Notes an answer's provider, model, tokens and fallbacks on the exchange and in the metrics. */
  record(ex: Exchange, answer: GatewayAnswer): void;
  /** Adds a route. */
  route(method: string, path: string, frontEnd: FrontEnd, handler: Handler): void;
}

/** Construction options of {@link OmegaServer}. */
export interface OmegaServerOptions {
  gateway: ServerGateway;
  config: ServerConfig;
  /** Server log (pino). */
  logger: Logger;
  /** Access log, one line per request; a child of `logger` when unset. */
  accessLogger?: Logger;
  metrics?: ServerMetrics;
  /** Omega's version, reported by `/api/version` when no Ollama answers. */
  version?: string;
}

/** Deliberate server timeouts (see docs/server.md, "Security"). */
export const SERVER_TIMEOUTS = Object.freeze({
  /** Whole request (headers and body) must arrive within this; a response may stream for ever. */
  requestTimeoutMs: 300_000,
  /** Headers must arrive within this (slowloris). */
  headersTimeoutMs: 30_000,
  /** Idle keep-alive connections close after this. */
  keepAliveTimeoutMs: 65_000,
  /** Largest request head. */
  maxHeaderBytes: 32 * 1024,
});

interface RouteEntry {
  frontEnd: FrontEnd;
  handler: Handler;
}

function frontEndOf(path: string): FrontEnd {
  if (path.startsWith('/v1/messages')) return 'anthropic';
  if (path.startsWith('/v1/')) return 'openai';
  if (path === '/metrics' || path === '/healthz' || path === '/readyz') return 'meta';
  return 'ollama';
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The Host header names this machine (DNS-rebinding guard for an unauthenticated loopback server). */
function isLocalHostHeader(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  const h = name.toLowerCase();
  return isLoopbackHost(h) || h.endsWith('.localhost') || h === '0.0.0.0';
}

/** The HTTP server. */
export class OmegaServer {
  readonly metrics: ServerMetrics;
  private readonly server: Server;
  private readonly routes = new Map<string, Map<string, RouteEntry>>();
  private readonly tokenDigests: Buffer[];
  private readonly inFlight = new Map<Exchange, AbortController>();
  private readonly ctx: ServerContext;
  private readonly access: Logger;
  private readonly sockets = new Set<Socket>();
  private seq = 0;
  private draining = false;
  private drained: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readyCache: { at: number; value: Promise<Record<string, boolean>> } | undefined;

  constructor(private readonly opts: OmegaServerOptions) {
    this.metrics = opts.metrics ?? new ServerMetrics();
    this.tokenDigests = opts.config.tokens.map(digest);
    this.access = opts.accessLogger ?? opts.logger.child({ component: 'access' });
    let upstream: OllamaUpstream | undefined;
    let fleet: FleetRelay | undefined;
    if (opts.gateway.isEnabled('ollama')) {
      const provider = opts.gateway.provider('ollama');
      if (provider instanceof OllamaProvider) upstream = new OllamaUpstream(provider.baseUrl, provider.timeouts);
      else if (provider instanceof OllamaFleet) {
        const fleetMetrics = attachFleetMetrics(this.metrics.registry, provider);
        fleet = new FleetRelay(provider, opts.logger.child({ component: 'fleet' }), (from, code) => fleetMetrics.failover(from, code));
      }
    }
    const metrics = this.metrics;
    this.ctx = {
      gateway: opts.gateway,
      config: opts.config,
      metrics,
      logger: opts.logger,
      upstream,
      fleet,
      version: opts.version ?? '0.0.0',
      record(ex, answer) {
        const meta = answer.metadata;
        ex.provider = meta.providerUsed;
        if (meta.model !== '') ex.model = meta.model;
        if (meta.promptTokens !== undefined) ex.tokensIn = meta.promptTokens;
        if (meta.completionTokens !== undefined) ex.tokensOut = meta.completionTokens;
        if (meta.fallbackFrom !== undefined && meta.fallbackFrom.length > 0) {
          ex.fallbackFrom = meta.fallbackFrom;
          metrics.fallbacks.inc({ from: meta.fallbackFrom[0], to: meta.providerUsed });
        }
      },
      route: (method, path, frontEnd, handler) => this.addRoute(method, path, frontEnd, handler),
    };
    this.addRoute('GET', '/healthz', 'meta', (ex) => sendJson(ex, 200, { status: 'ok' }));
    this.addRoute('GET', '/readyz', 'meta', (ex) => this.readyz(ex));
    this.addRoute('GET', '/metrics', 'meta', async (ex) => {
      const text = await this.metrics.registry.metrics();
      sendText(ex, 200, text, { 'content-type': this.metrics.registry.contentType });
    });
    registerOllama(this.ctx);
    registerOpenAI(this.ctx);
    registerAnthropic(this.ctx);

    this.server = createServer({ maxHeaderSize: SERVER_TIMEOUTS.maxHeaderBytes }, (req, res) => this.handle(req, res));
    this.server.requestTimeout = SERVER_TIMEOUTS.requestTimeoutMs;
    this.server.headersTimeout = SERVER_TIMEOUTS.headersTimeoutMs;
    this.server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeoutMs;
    // No socket inactivity timeout: a cold model load may keep a response silent for minutes.
    this.server.timeout = 0;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return;
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    });
  }

  /** Starts listening; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.opts.config.listen;
    if (!isLoopbackHost(host) && this.tokenDigests.length === 0) {
      throw new ConfigError({
        message: `Refusing to listen on ${host}, which other machines can reach, without tokens; set OMEGA_SERVER_TOKENS or [server] tokens_file, or listen on 127.0.0.1.`,
        key: 'server.listen',
      });
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** `http://host:port` of the bound server. */
  get url(): string {
    const a = this.server.address() as AddressInfo | null;
    if (a === null) return '';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** Requests being answered now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to `drainTimeoutMs` (default
   * `[server] drain_timeout`), then cancels what remains, and closes the gateway.
   */
  shutdown(drainTimeoutMs = this.opts.config.drainTimeoutMs): Promise<void> {
    this.drained ??= this.drain(drainTimeoutMs);
    return this.drained;
  }

  private async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight.size > 0) {
      this.opts.logger.info({ inFlight: this.inFlight.size, timeoutMs }, 'draining in-flight requests');
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([idle, late]);
      clearTimeout(timer);
      if (this.inFlight.size > 0) {
        this.opts.logger.warn({ inFlight: this.inFlight.size }, 'drain timeout reached; cancelling the remaining requests');
        for (const controller of this.inFlight.values()) controller.abort(new Error('omega serve is shutting down'));
        // Give cancelled streams a moment to write their closing error line.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await this.ctx.upstream?.close();
    await this.ctx.fleet?.close();
    await this.opts.gateway.close();
  }

  private addRoute(method: string, path: string, frontEnd: FrontEnd, handler: Handler): void {
    let byMethod = this.routes.get(path);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.routes.set(path, byMethod);
    }
    byMethod.set(method, { frontEnd, handler });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const controller = new AbortController();
    const ex: Exchange = {
      req,
      res,
      id: String(++this.seq),
      started: performance.now(),
      client: req.socket.remoteAddress ?? 'unknown',
      path,
      signal: controller.signal,
      frontEnd: frontEndOf(path),
      bodyLimit: this.opts.config.bodyLimitBytes,
    };
    this.inFlight.set(ex, controller);
    this.metrics.inFlight.inc({ front_end: ex.frontEnd });
    res.once('close', () => {
      // Closed before the response finished: the client went away, so cancel the upstream now.
      if (!res.writableFinished) {
        ex.errorCode ??= 'aborted';
        controller.abort();
      }
      this.finish(ex);
    });
    if (this.draining) res.setHeader('connection', 'close');

    const origin = req.headers.origin;
    if (origin !== undefined && this.corsAllowed(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, HEAD, DELETE, OPTIONS',
          'access-control-allow-headers':
            req.headers['access-control-request-headers'] ?? 'authorization, content-type, x-api-key, x-omega-conversation, x-omega-host',
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
    } else if (origin !== undefined && req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      sendText(ex, 403, 'Origin not allowed; add it to [server] cors_origins.');
      return;
    }

    if (this.tokenDigests.length === 0 && isLoopbackHost(this.opts.config.listen.host) && !isLocalHostHeader(req.headers.host)) {
      // A web page that rebinds its DNS name to 127.0.0.1 must not reach the user's providers.
      sendText(ex, 403, 'Host not allowed; omega serve without tokens answers only requests addressed to localhost.');
      return;
    }
    if (this.tokenDigests.length > 0 && path !== '/healthz' && !this.authorized(req)) {
      ex.errorCode = 'unauthorized';
      sendError(ex, new HttpError(401, 'Missing or invalid token; send `Authorization: Bearer <token>` with one of the server\'s tokens.', 'unauthorized'));
      return;
    }
    if (this.draining) {
      sendError(ex, new HttpError(503, 'omega serve is shutting down; retry against another instance or in a moment.', 'shutting_down'));
      return;
    }

    const byMethod = this.routes.get(path) ?? this.prefixRoute(path);
    const method = req.method === 'HEAD' && byMethod?.has('HEAD') !== true ? 'GET' : (req.method ?? 'GET');
    const entry = byMethod?.get(method);
    if (byMethod === undefined || entry === undefined) {
      const status = byMethod === undefined ? 404 : 405;
      ex.errorCode = status === 404 ? 'not_found' : 'method_not_allowed';
      if (ex.frontEnd === 'ollama' || ex.frontEnd === 'meta') sendText(ex, status, status === 404 ? '404 page not found' : '405 method not allowed');
      else sendError(ex, new HttpError(status, status === 404 ? `No route ${req.method ?? ''} ${path}.` : `${req.method ?? ''} is not allowed on ${path}.`, ex.errorCode));
      return;
    }
    ex.frontEnd = entry.frontEnd;
    let result: Promise<void> | void;
    try {
      result = entry.handler(ex);
    } catch (error) {
      this.failed(ex, error);
      return;
    }
    if (result !== undefined) result.catch((error: unknown) => this.failed(ex, error));
  }

  private prefixRoute(path: string): Map<string, RouteEntry> | undefined {
    if (path.startsWith('/v1/models/')) return this.routes.get('/v1/models/:model');
    return undefined;
  }

  private failed(ex: Exchange, error: unknown): void {
    const sent = sendError(ex, error);
    if (sent.status >= 500 && sent.code === 'internal') {
      this.opts.logger.error({ err: error instanceof Error ? error.stack : String(error), id: ex.id }, 'request handler failed');
    }
    if (ex.res.headersSent && !ex.res.writableEnded) ex.res.destroy();
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    let token: string | undefined;
    if (typeof header === 'string' && /^bearer\s+/i.test(header)) token = header.replace(/^bearer\s+/i, '').trim();
    else if (typeof req.headers['x-api-key'] === 'string') token = req.headers['x-api-key'].trim();
    if (token === undefined || token === '') return false;
    const given = digest(token);
    let ok = false;
    // Every token is compared, in constant time, so timing reveals neither which nor how much matched.
    for (const d of this.tokenDigests) ok = timingSafeEqual(given, d) || ok;
    return ok;
  }

  private corsAllowed(origin: string): boolean {
    const allowed = this.opts.config.corsOrigins;
    return allowed.includes('*') || allowed.includes(origin);
  }

  private async readyz(ex: Exchange): Promise<void> {
    const now = performance.now();
    if (this.readyCache === undefined || now - this.readyCache.at > 2000) {
      this.readyCache = { at: now, value: this.probeProviders() };
    }
    const providers = await this.readyCache.value;
    const ready = Object.values(providers).some(Boolean);
    sendJson(ex, ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', providers });
  }

  /** Which enabled providers answer now (each probe bounded by its own short timeout). */
  async probeProviders(signal?: AbortSignal): Promise<Record<string, boolean>> {
    const names = this.opts.gateway.providers();
    const results = await Promise.all(
      names.map(async (name) => {
        try {
          return await this.opts.gateway.provider(name).isAvailable(signal === undefined ? {} : { signal });
        } catch {
          return false;
        }
      }),
    );
    return Object.fromEntries(names.map((n, i) => [n, results[i] === true]));
  }

  private finish(ex: Exchange): void {
    this.inFlight.delete(ex);
    const status = ex.res.statusCode;
    const ms = performance.now() - ex.started;
    const m = this.metrics;
    m.inFlight.dec({ front_end: ex.frontEnd });
    const ok = status < 400 && ex.errorCode === undefined;
    m.requests.inc({ front_end: ex.frontEnd, provider: ex.provider ?? '', model: ok ? (ex.model ?? '') : '', status: String(status) });
    if (ex.errorCode !== undefined) m.errors.inc({ front_end: ex.frontEnd, code: ex.errorCode });
    if (ex.ttfbMs !== undefined) m.ttfb.observe({ front_end: ex.frontEnd }, ex.ttfbMs / 1000);
    m.duration.observe({ front_end: ex.frontEnd, provider: ex.provider ?? '' }, ms / 1000);
    if (ex.provider !== undefined) {
      const labels = { provider: ex.provider, model: ex.model ?? '' };
      if (ex.tokensIn !== undefined) m.tokens.inc({ direction: 'in', ...labels }, ex.tokensIn);
      if (ex.tokensOut !== undefined) m.tokens.inc({ direction: 'out', ...labels }, ex.tokensOut);
    }
    const line: Record<string, unknown> = {
      id: ex.id,
      method: ex.req.method,
      path: ex.path,
      status,
      frontEnd: ex.frontEnd,
      client: ex.client,
      ms: Math.round(ms * 100) / 100,
    };
    if (ex.ttfbMs !== undefined) line.ttfbMs = Math.round(ex.ttfbMs * 100) / 100;
    if (ex.provider !== undefined) line.provider = ex.provider;
    if (ex.model !== undefined) line.model = ex.model;
    if (ex.tokensIn !== undefined) line.tokensIn = ex.tokensIn;
    if (ex.tokensOut !== undefined) line.tokensOut = ex.tokensOut;
    if (ex.fallbackFrom !== undefined) line.fallbackFrom = ex.fallbackFrom;
    if (ex.errorCode !== undefined) line.error = ex.errorCode;
    this.access.info(line, 'request');
    if (this.inFlight.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
