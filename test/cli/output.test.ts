/**
 * The CLI's formatting and error helpers, in process.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { ConfigError, ProviderError, UsageError } from '../../src/core/errors.js';
import { describeError, exitCodeFor, InterruptedError } from '../../src/cli/errors.js';
import { cliLogLevel, createCliLogger } from '../../src/cli/logger.js';
import { capabilityWords, formatContextWindow } from '../../src/cli/models.js';
import {
  colorEnabled,
  createStyle,
  formatBytes,
  formatDuration,
  formatRelativeTime,
  formatTable,
  stripAnsi,
  visibleWidth,
} from '../../src/cli/output.js';
import { normalizeOllamaName } from '../../src/cli/commands/status.js';

describe('colour', () => {
  const tty = { write: () => true, isTTY: true };
  const pipe = { write: () => true, isTTY: false };

  it('is on for a terminal and off for a pipe', () => {
    assert.equal(colorEnabled(tty, {}), true);
    assert.equal(colorEnabled(pipe, {}), false);
  });

  it('is off whenever NO_COLOR is non-empty, even with FORCE_COLOR', () => {
    assert.equal(colorEnabled(tty, { NO_COLOR: '1' }), false);
    assert.equal(colorEnabled(tty, { NO_COLOR: '1', FORCE_COLOR: '1' }), false);
    assert.equal(colorEnabled(tty, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
    assert.equal(colorEnabled(pipe, { FORCE_COLOR: '1' }), true);
    assert.equal(colorEnabled(tty, { FORCE_COLOR: '0' }), false);
    assert.equal(colorEnabled(tty, { TERM: 'dumb' }), false);
  });

  it('styles are the identity when off', () => {
    const off = createStyle(pipe, {});
    assert.equal(off.red('x') + off.dim('y') + off.bold('z'), 'xyz');
    const on = createStyle(tty, {});
    assert.equal(on.dim('y'), '\u001b[2my\u001b[22m');
    assert.equal(stripAnsi(on.red('abc')), 'abc');
    assert.equal(visibleWidth(on.bold('héllo')), 5);
  });
});

describe('formatTable', () => {
  it('pads columns to the widest cell, ignoring colour codes, without trailing spaces', () => {
    const bold = createStyle({ write: () => true, isTTY: true }, {}).bold;
    const lines = formatTable(
      ['NAME', 'SIZE', 'X'],
      [
        ['llama3:latest', '4.7 GB', ''],
        [bold('a'), '274 MB', 'y'],
      ],
      { alignRight: [1], gap: 2 },
    );
    assert.deepEqual(lines.map(stripAnsi), ['NAME             SIZE  X', 'llama3:latest  4.7 GB', 'a              274 MB  y']);
  });
});

describe('formatBytes', () => {
  it('uses decimal units with one decimal below 10, like Ollama', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1000), '1.0 KB');
    assert.equal(formatBytes(4_700_000_000), '4.7 GB');
    assert.equal(formatBytes(274_000_000), '274 MB');
    assert.equal(formatBytes(999_600_000), '1.0 GB');
    assert.equal(formatBytes(-1), '?');
  });
});

describe('formatDuration', () => {
  it('chooses the unit by size', () => {
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(3_240), '3.2s');
    assert.equal(formatDuration(42_000), '42s');
    assert.equal(formatDuration(245_000), '4m05s');
    assert.equal(formatDuration(3_720_000), '1h02m');
    assert.equal(formatDuration(Number.NaN), '?');
  });
});

describe('formatRelativeTime', () => {
  const now = new Date('2025-07-07T12:00:00Z');
  it('says in/ago, now, and forever for keep_alive < 0', () => {
    assert.equal(formatRelativeTime(new Date('2025-07-07T12:04:00Z'), now), 'in 4 minutes');
    assert.equal(formatRelativeTime(new Date('2025-07-07T11:00:00Z'), now), '1 hour ago');
    assert.equal(formatRelativeTime(new Date('2025-07-07T12:00:01Z'), now), 'now');
    assert.equal(formatRelativeTime(new Date('2318-01-01T00:00:00Z'), now), 'forever');
  });
});

describe('models helpers', () => {
  it('formats context windows and capabilities', () => {
    assert.equal(formatContextWindow(131_072), '128K');
    assert.equal(formatContextWindow(2000), '2000');
    assert.equal(formatContextWindow(undefined), '-');
    const caps = { chat: true, vision: false, tools: true, embeddings: false, streaming: true, thinking: true };
    assert.equal(capabilityWords({ id: 'x', provider: 'p', name: 'x', capabilities: caps, pricing: null, local: true }), 'chat, tools, thinking');
  });

  it('treats Ollama name spellings of one model as equal', () => {
    assert.equal(normalizeOllamaName('llama3'), 'llama3:latest');
    assert.equal(normalizeOllamaName('Library/Llama3:latest'), 'llama3:latest');
    assert.equal(normalizeOllamaName('registry.ollama.ai/library/qwen3:0.6b'), 'qwen3:0.6b');
    assert.equal(normalizeOllamaName('me/model'), 'me/model:latest');
  });
});

describe('errors', () => {
  it('maps errors to exit codes', () => {
    assert.equal(exitCodeFor(new UsageError('x')), 2);
    assert.equal(exitCodeFor(new ConfigError({ message: 'x' })), 2);
    assert.equal(exitCodeFor(new CommanderError(1, 'commander.unknownOption', 'x')), 2);
    assert.equal(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', 'x')), 0);
    assert.equal(exitCodeFor(new ProviderError({ provider: 'ollama', code: 'unavailable', message: 'x' })), 1);
    assert.equal(exitCodeFor(new InterruptedError()), 130);
    assert.equal(exitCodeFor(new Error('boom')), 1);
  });

  it('describes a ConfigError with file, line and key when the message lacks them', () => {
    const text = describeError(new ConfigError({ message: 'Bad value.', file: '/c.toml', line: 3, key: 'provider.ollama.model' }));
    assert.equal(text, 'Bad value (/c.toml:3, key provider.ollama.model).');
    const already = describeError(
      new ConfigError({ message: 'provider.ollama.model in /c.toml line 3 must be a string.', file: '/c.toml', line: 3, key: 'provider.ollama.model' }),
    );
    assert.equal(already, 'provider.ollama.model in /c.toml line 3 must be a string.');
  });

  it('words the hint from the error\'s fields, not its message', () => {
    const fromEnv = new ProviderError({ provider: 'ollama', code: 'unavailable', message: 'Ollama is unreachable', baseUrlSource: 'env' });
    assert.match(describeError(fromEnv), /Start it with `ollama serve`, or fix OLLAMA_HOST/);
    // The message names a model, but no field does: the CLI does not guess from prose.
    const unnamed = new ProviderError({ provider: 'ollama', code: 'model_not_found', message: 'model "qwen3" not found' });
    assert.doesNotMatch(describeError(unnamed), /ollama pull qwen3/);
    const pull = new ProviderError({
      provider: 'ollama',
      code: 'model_not_found',
      message: "Model 'nope' does not exist in the registry",
      model: 'nope',
      endpoint: 'POST /api/pull',
    });
    assert.doesNotMatch(describeError(pull), /ollama pull/);
  });

  it('adds a hint unless the message already says what to run; --verbose always adds it', () => {
    const withCommand = new ProviderError({
      provider: 'ollama',
      code: 'unavailable',
      message: 'Ollama not running at http://localhost:11434. Start it with `ollama serve`.',
      hint: 'Nothing accepted a connection.',
    });
    assert.equal(describeError(withCommand), 'Ollama not running at http://localhost:11434. Start it with `ollama serve`.');
    assert.match(describeError(withCommand, true), /Nothing accepted a connection\.$/);
    const bare = new ProviderError({ provider: 'ollama', code: 'unavailable', message: 'Ollama is unreachable' });
    assert.match(describeError(bare), /^Ollama is unreachable\. Start it with `ollama serve`/);
    // The model is a field now: the CLI no longer reads it out of the message.
    const notFound = new ProviderError({ provider: 'ollama', code: 'model_not_found', message: 'model "qwen3" not found', model: 'qwen3' });
    assert.match(describeError(notFound), /Run `ollama pull qwen3`\.$/);
  });

  it('keeps every error on one line', () => {
    assert.equal(describeError(new Error('two\nlines')), 'two lines.');
  });
});

describe('logger', () => {
  it('logs only errors by default, debug with --verbose, and honours debug/silent from config', () => {
    assert.equal(cliLogLevel(undefined, false), 'error');
    assert.equal(cliLogLevel('info', false), 'error');
    assert.equal(cliLogLevel('warn', false), 'error');
    assert.equal(cliLogLevel('fatal', false), 'fatal');
    assert.equal(cliLogLevel('debug', false), 'debug');
    assert.equal(cliLogLevel('silent', false), 'silent');
    assert.equal(cliLogLevel('info', true), 'debug');
    assert.equal(cliLogLevel('trace', true), 'trace');
  });

  it('writes readable lines and never a secret', () => {
    let out = '';
    const logger = createCliLogger({
      level: 'debug',
      stream: { write: (s: string) => ((out += s), true) },
      style: createStyle({ write: () => true }, {}),
      secrets: ['hunter2-secret'],
    });
    logger.child({ component: 'gateway' }).debug({ apiKey: 'sk-live-abcdefghijklmnop', note: 'uses hunter2-secret' }, 'calling');
    logger.trace('hidden');
    assert.equal(out, 'omega: debug: calling component=gateway apiKey=[REDACTED] note="uses [REDACTED]"\n');
  });
});
