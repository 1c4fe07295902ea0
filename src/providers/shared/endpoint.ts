/**
 * Where one HTTP provider sends its requests: the transport, its base URL as origin and path,
 * and the headers of a body-less and of a JSON request. Every HTTP provider sends through one;
 * only the error mapping differs, and that is built per call from the request's context.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { CallOptions } from '../../core/types.js';
import type { HttpResponse, HttpTransport } from '../../http/transport.js';
import { probe, readJsonObject, requestOk } from './request.js';

/** How one call's failures read in the provider's words. */
export interface CallErrors {
  /** A transport failure, while sending or while reading a body. */
  failure: (error: unknown) => unknown;
  /** A non-2xx response, its body read as text. */
  status: (status: number, headers: IncomingHttpHeaders, text: string) => ProviderError;
  /** A 2xx body that is not the JSON object expected. */
  unreadable: (detail: string, cause?: unknown) => unknown;
}

/** Construction options of {@link ProviderEndpoint}. */
export interface ProviderEndpointOptions {
  transport: HttpTransport;
  /** `scheme://host:port`. */
  origin: string;
  /** The base URL's path without a trailing slash (`''` for none). */
  basePath: string;
  /** Headers of a request without a body. */
  getHeaders: Record<string, string>;
  /** Headers of a request with a JSON body. */
  jsonHeaders: Record<string, string>;
  logger: Logger;
  /** Provider name, in the debug lines of error responses and failed probes. */
  name: string;
}

/** Sends one provider's requests; see the module comment. */
export class ProviderEndpoint {
  readonly origin: string;
  readonly basePath: string;
  private readonly o: ProviderEndpointOptions;
  private readonly logMessage: string;

  constructor(options: ProviderEndpointOptions) {
    this.o = options;
    this.origin = options.origin;
    this.basePath = options.basePath;
    this.logMessage = `${options.name} error response`;
  }

  /**
   * Sends a request; resolves on a 2xx status and throws the mapped error otherwise. `accept`
   * replaces the `accept` header (a stream asks for `text/event-stream`).
   */
  send(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: string | undefined,
    options: CallOptions | undefined,
    errors: CallErrors,
    accept?: string,
  ): Promise<HttpResponse> {
    const headers = body === undefined ? this.o.getHeaders : this.o.jsonHeaders;
    return requestOk(
      this.o.transport,
      {
        origin: this.origin,
        path: this.basePath + path,
        method,
        headers: accept === undefined ? headers : { ...headers, accept },
        body,
        signal: options?.signal,
        timeouts: options?.timeouts,
      },
      { failure: errors.failure, status: errors.status, logger: this.o.logger, logMessage: this.logMessage },
    );
  }

  /** A call whose answer is one JSON object. */
  async json(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: string | undefined,
    options: CallOptions | undefined,
    errors: CallErrors,
  ): Promise<object> {
    const res = await this.send(method, path, body, options, errors);
    return readJsonObject(res, errors.failure, errors.unreadable);
  }

  /** `GET path` under a short limit: true on 200, never throws (see {@link probe}). */
  probe(path: string, options: { signal?: AbortSignal | undefined; timeoutMs: number; connectMs: number }): Promise<boolean> {
    return probe(this.o.transport, {
      origin: this.origin,
      path: this.basePath + path,
      headers: this.o.getHeaders,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      connectMs: options.connectMs,
      logger: this.o.logger,
      name: this.o.name,
    });
  }
}
