/**
 * `omega models`: every model of every enabled provider.
 */
import { Command } from 'commander';
import { enabledProviders } from '../../gateway/factory.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { collectModels, modelTable } from '../models.js';
import { formatJson } from '../output.js';

/** Builds the `models` command. */
export function modelsCommand(ctx: CliContext): Command {
  return new Command('models')
    .alias('list')
    .description('list the models of every enabled provider')
    .option('--json', 'print {models, errors} as JSON')
    .addHelpText('after', '\nExit status is 1 when no provider could list its models.')
    .action(async (options: { json?: boolean }) => {
      const config = ctx.config;
      const gateway = await ctx.openGateway({ memory: false });
      try {
        const names = enabledProviders(config);
        const listing = await ctx.interruptible((signal) =>
          collectModels(
            names.map((name) => ({ name, get: () => gateway.provider(name) })),
            signal,
            ctx.logger,
          ),
        );
        if (options.json === true) {
          ctx.print(formatJson(listing));
        } else {
          for (const error of listing.errors) ctx.io.stderr.write(`omega: ${error.provider}: ${error.message}\n`);
          if (listing.models.length > 0) {
            ctx.print(`${modelTable(listing.models, ctx.out).join('\n')}\n`);
          } else if (listing.errors.length < names.length) {
            const model = config.provider.ollama.model;
            ctx.io.stderr.write(`No models installed. Get one with \`ollama pull ${model}\` (or \`omega pull ${model}\`).\n`);
          }
        }
        if (names.length === 0) {
          ctx.io.stderr.write('omega: no provider is enabled; set `[provider.ollama] enabled = true` in your config.\n');
        }
        if (names.length === 0 || listing.errors.length === names.length) ctx.exitCode = EXIT.error;
      } finally {
        await gateway.close();
      }
    });
}
