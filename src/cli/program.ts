/**
 * The `omega` command line: commander setup, global options, and turning every outcome
 * into an exit code (0 ok, 1 runtime error, 2 usage or config error, 130 interrupted).
 */
import { Command, CommanderError } from 'commander';
import { askCommand } from './commands/ask.js';
import { chatCommand } from './commands/chat.js';
import { initCommand } from './commands/init.js';
import { memoryCommand } from './commands/memory.js';
import { modelsCommand } from './commands/models.js';
import { pullCommand } from './commands/pull.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { CliContext, type CliIO, type GlobalOptions } from './context.js';
import { describeError, describeStack, exitCodeFor, InterruptedError, scrub } from './errors.js';
import { packageVersion } from './paths.js';

/** Which subcommand a commander error came from, for the `See omega <command> --help` pointer. */
const usageCommand = new WeakMap<CommanderError, string>();

/** Commands that must run even when the config is broken. */
const NO_CONFIG_COMMANDS = new Set(['init', 'help']);

/** Builds the program; commands report to `ctx`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('omega')
    .description('Local-first AI gateway: ask your local Ollama models from the terminal.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('-c, --config <file>', 'config file (default: $OMEGA_CONFIG, ./config.toml, ~/.omega/config.toml)')
    .option('--verbose', 'debug logs on stderr, and stack traces on errors')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
      // Errors are printed once, in our own format, by run().
      outputError: () => {},
    })
    .addHelpText(
      'after',
      `
Examples:
  omega status                        check that Ollama is up and the model installed
  omega ask "Why is the sky blue?"    ask one question
  omega chat                          talk interactively
  omega models                        list installed models
  omega pull llama3.2                 download a model
  omega serve                         serve the gateway over HTTP (Ollama/OpenAI/Anthropic APIs)

Exit status: 0 ok, 1 runtime error, 2 usage or config error, 130 interrupted.
Environment: OLLAMA_HOST, OMEGA_CONFIG, NO_COLOR. Docs: docs/cli.md`,
    );

  program.hook('preAction', (_program, action) => {
    ctx.configure(program.opts<GlobalOptions>());
    // Load (and so validate) the config before the command does anything at all.
    if (!NO_CONFIG_COMMANDS.has(action.name())) ctx.loadConfig();
  });

  for (const command of [askCommand(ctx), chatCommand(ctx), modelsCommand(ctx), statusCommand(ctx), pullCommand(ctx), initCommand(ctx), serveCommand(ctx)]) {
    // Subcommands inherit the error handling so their usage errors also map to exit 2.
    command
      .exitOverride((error) => {
        usageCommand.set(error, command.name());
        throw error;
      })
      .configureOutput(program.configureOutput())
      .showSuggestionAfterError(true);
    program.addCommand(command);
  }
  // `omega memory export|import`: the group and its subcommands get the same error handling.
  const memory = memoryCommand(ctx);
  for (const command of [memory, ...memory.commands]) {
    command
      .exitOverride((error) => {
        usageCommand.set(error, memory.name());
        throw error;
      })
      .configureOutput(program.configureOutput())
      .showSuggestionAfterError(true);
  }
  program.addCommand(memory);
  return program;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 * Errors become one line on stderr, `omega: <message> <hint>`; `--verbose` adds the stack.
 */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    const code = exitCodeFor(error);
    if (error instanceof InterruptedError) return code;
    if (error instanceof CommanderError) {
      if (code !== 0) {
        const command = usageCommand.get(error);
        const where = command === undefined ? 'omega --help' : `omega ${command} --help`;
        io.stderr.write(`omega: ${describeError(error)} See \`${where}\`.\n`);
      }
      return code;
    }
    const verbose = ctx.verbose || argv.includes('--verbose');
    io.stderr.write(`omega: ${scrub(describeError(error, verbose), ctx.secrets())}\n`);
    if (verbose) io.stderr.write(`${scrub(describeStack(error), ctx.secrets())}\n`);
    return code;
  }
}
