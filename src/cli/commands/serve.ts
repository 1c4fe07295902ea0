/**
 * `omega serve`: runs the gateway as an HTTP service that speaks Ollama's API, OpenAI's Chat
 * Completions and Anthropic's Messages, until SIGTERM/SIGINT (drain, then exit 0; a second
 * signal exits at once).
 */
import { Command } from 'commander';
import { pino } from 'pino';
import { parseListen, parseServerSection, readServerTokens } from '../../config/server.js';
import type { ServerConfig } from '../../config/server.js';
import { UsageError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import type { Logger } from '../../core/logger.js';
import { Gateway } from '../../gateway/gateway.js';
import { OmegaServer } from '../../server/server.js';
import { ServerGateway } from '../../server/gateway-adapter.js';
import type { CliContext } from '../context.js';
import { packageVersion } from '../paths.js';

interface ServeOptions {
  listen?: string;
  memory?: boolean;
  drainTimeout?: string;
}

/** Builds the `serve` command. */
export function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('serve the gateway over HTTP (Ollama, OpenAI and Anthropic APIs)')
    .option('--listen <host:port>', 'address to listen on (default: [server] listen, else 127.0.0.1:11435)')
    .option('--no-memory', 'keep no conversation memory or audit trail')
    .option('--drain-timeout <seconds>', 'on shutdown, how long in-flight requests may finish (default: [server] drain_timeout, else 30)')
    .addHelpText(
      'after',
      `
Point a tool at it: OLLAMA_HOST=127.0.0.1:11435 ollama list; OpenAI SDK baseURL http://127.0.0.1:11435/v1.
Tokens: OMEGA_SERVER_TOKENS or [server] tokens_file (required to listen off loopback). Docs: docs/server.md`,
    )
    .action(async (options: ServeOptions) => {
      const loaded = ctx.loadConfig();
      const section = loaded.config.server ?? parseServerSection(undefined, { env: ctx.io.env, home: ctx.io.home, readTokens: false });
      const server: ServerConfig = readServerTokens(section, { env: ctx.io.env, ...(loaded.file === undefined ? {} : { file: loaded.file }) });
      if (options.listen !== undefined) server.listen = parseListen(options.listen, '--listen');
      if (options.drainTimeout !== undefined) {
        const secs = Number(options.drainTimeout);
        if (!Number.isFinite(secs) || secs < 0) throw new UsageError('--drain-timeout must be a number of seconds, 0 or more.');
        server.drainTimeoutMs = Math.round(secs * 1000);
      }
      const level = ctx.verbose ? 'debug' : loaded.config.omega.logLevel;
      const logger = createLogger({ level, name: 'omega-serve' });
      // Access lines are built from known fields only (no headers, no bodies), so they skip the
      // redaction pass, which cost a few per cent of the server's CPU per request.
      const accessLogger = pino({ name: 'omega-serve', level, base: { component: 'access' } }, pino.destination({ fd: 2, sync: true })) as unknown as Logger;
      const gateway = await Gateway.connect(loaded.config, {
        logger,
        memory: options.memory !== false,
        ...(loaded.file === undefined ? {} : { configFile: loaded.file }),
      });
      const serverGateway = new ServerGateway(gateway, logger);
      let omega: OmegaServer;
      try {
        omega = new OmegaServer({ gateway: serverGateway, config: server, logger, accessLogger, version: packageVersion() });
        await omega.listen();
      } catch (error) {
        await serverGateway.close();
        throw error;
      }
      const err = ctx.io.stderr;
      err.write(`omega serve listening on ${omega.url}\n`);
      const done = new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = (signal: NodeJS.Signals): void => {
          signals += 1;
          if (signals > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
          err.write(`omega serve: ${signal}, finishing in-flight requests (up to ${server.drainTimeoutMs / 1000} s; again to stop now)\n`);
          omega.shutdown().then(
            () => {
              process.off('SIGINT', onSignal);
              process.off('SIGTERM', onSignal);
              resolve();
            },
            (error: unknown) => {
              logger.error({ err: String(error) }, 'shutdown failed');
              resolve();
            },
          );
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      // Which providers are up is worth a line, but must not hold up serving.
      void omega.probeProviders().then((up) => {
        const parts = Object.entries(up).map(([name, ok]) => `${name} ${ok ? 'up' : 'down'}`);
        err.write(`omega serve providers: ${parts.join(', ')}${server.tokens.length > 0 ? `; ${server.tokens.length} token(s) required` : ''}\n`);
      });
      await done;
      err.write('omega serve stopped\n');
    });
}
