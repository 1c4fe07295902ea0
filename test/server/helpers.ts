/**
 * Shared pieces of the `omega serve` tests: a server on a free loopback port over a gateway
 * built from a test config (or injected fake providers), stopped after the suite.
 */
import { after } from 'node:test';
import type { ServerConfig } from '../../src/config/server.js';
import { parseServerSection } from '../../src/config/server.js';
import type { OmegaConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Logger } from '../../src/core/logger.js';
import type { ModelProvider } from '../../src/core/types.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { ServerGateway } from '../../src/server/gateway-adapter.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { OmegaServer } from '../../src/server/server.js';

/** A running test server. */
export interface TestServer {
  server: OmegaServer;
  gateway: Gateway;
  url: string;
  /** `127.0.0.1:<port>`, for OLLAMA_HOST. */
  host: string;
  close(): Promise<void>;
}

/** Options of {@link startServer}. */
export interface StartOptions {
  config: OmegaConfig;
  server?: Partial<ServerConfig>;
  providers?: Record<string, ModelProvider>;
  memory?: SqliteMemory | null;
  logger?: Logger;
  /** Register `after(close)` (default true); pass false when starting from a `before` hook and close it yourself. */
  autoClose?: boolean;
}

/** Starts an OmegaServer on 127.0.0.1 and a free port; stopped by `close()` or after the suite. */
export async function startServer(opts: StartOptions): Promise<TestServer> {
  const gateway = new Gateway({
    config: opts.config,
    ...(opts.providers === undefined ? {} : { providers: opts.providers }),
    ...(opts.memory === undefined ? {} : { memory: opts.memory }),
  });
  const config: ServerConfig = { ...parseServerSection(undefined, { env: {} }), listen: { host: '127.0.0.1', port: 0 }, ...opts.server };
  const server = new OmegaServer({
    gateway: new ServerGateway(gateway, opts.logger ?? silentLogger),
    config,
    logger: opts.logger ?? silentLogger,
    metrics: new ServerMetrics({ defaultMetrics: false }),
    version: '0.0.0-test',
  });
  const address = await server.listen();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await server.shutdown(0);
  };
  if (opts.autoClose !== false) after(close);
  return { server, gateway, url: server.url, host: `127.0.0.1:${address.port}`, close };
}
