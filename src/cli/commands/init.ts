/**
 * `omega init`: writes a starting config.toml from the documented example.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { configSearchPaths } from '../../config/load.js';
import { OmegaError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { exampleConfigPath } from '../paths.js';

/** Builds the `init` command. */
export function initCommand(ctx: CliContext): Command {
  return new Command('init')
    .description('write a config.toml to start from (~/.omega/config.toml unless --path)')
    .option('--path <file>', 'where to write it (default: the global --config file, else ~/.omega/config.toml)')
    .option('-f, --force', 'overwrite an existing file')
    .action((options: { path?: string; force?: boolean }) => {
      const explicit = options.path ?? ctx.configPath;
      const target = explicit !== undefined ? resolve(ctx.io.cwd, explicit) : join(ctx.io.home, '.omega', 'config.toml');
      const source = exampleConfigPath();
      let text: string;
      try {
        text = readFileSync(source, 'utf8');
      } catch (error) {
        throw new OmegaError('internal', `The example configuration ${source} is missing from the installation.`, {
          cause: error,
          hint: 'Reinstall omega.',
        });
      }
      if (existsSync(target) && options.force !== true) {
        // Exit 1, not 2: the command line is fine, the file system is not in the state asked for.
        throw new OmegaError('config', `${target} already exists; not overwriting it.`, {
          hint: 'Pass --force to replace it, or --path to write somewhere else.',
        });
      }
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text, { mode: 0o600 });
      ctx.print(`Wrote ${target}\n`);

      const lines = ['', 'Next steps:', `  1. Edit ${target} (the comments explain every key).`];
      const candidates = configSearchPaths({ env: ctx.io.env, cwd: ctx.io.cwd, home: ctx.io.home });
      const first = candidates.find((c) => existsSync(c.path));
      if (first !== undefined && resolve(first.path) !== target) {
        lines.push(`     Note: ${first.path} is found first and will be used instead (see \`omega status\`).`);
      } else if (!candidates.some((c) => resolve(c.path) === target)) {
        lines.push(`     Omega finds it only when told: pass \`--config ${target}\` or set OMEGA_CONFIG=${target}.`);
      }
      lines.push('  2. Run `omega status` to check that Ollama is reachable and the model is installed.');
      lines.push('  3. Ask something: omega ask "Why is the sky blue?"');
      ctx.print(`${lines.join('\n')}\n`);
    });
}
