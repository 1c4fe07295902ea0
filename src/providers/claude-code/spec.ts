/**
 * The Claude Code provider's spec: the `claude` executable, its whole-run limit and turn limit.
 * No key and no network settings: the CLI brings its own login.
 */
import type { Section, ValueSource } from '../../config/section.js';
import type { ProviderSpec } from '../spec.js';
import { CLAUDE_CODE_DEFAULTS, ClaudeCodeProvider } from './provider.js';

/** `[provider.claude-code]` after loading. */
export interface ClaudeCodeConfig {
  enabled: boolean;
  /** Path or name of the `claude` executable. */
  command: string;
  model?: string;
  timeoutSecs: number;
  maxTurns: number;
}

function sourcesOf(section: Section, keys: Record<string, string>): Record<string, ValueSource> {
  return Object.fromEntries(Object.entries(keys).map(([option, key]) => [option, section.sourceOf(key)]));
}

/** The Claude Code CLI in print mode. */
export const claudeCodeSpec: ProviderSpec<'claude-code', ClaudeCodeConfig> = {
  name: 'claude-code',
  label: 'Claude Code',
  configSection: 'provider.claude-code',
  env: {},
  secretEnv: [],
  keys: { enabled: 'boolean', command: 'string', model: 'string', timeout_secs: 'seconds', max_turns: 'integer' },
  resolve(section) {
    const options: ClaudeCodeConfig = {
      enabled: section.boolean('enabled', false),
      command: section.string('command', CLAUDE_CODE_DEFAULTS.command, { nonEmpty: true }),
      timeoutSecs: section.number('timeout_secs', CLAUDE_CODE_DEFAULTS.timeoutSecs, {
        min: 0,
        expected: 'a number of seconds, 0 or more (0 turns the limit off)',
      }),
      maxTurns: section.number('max_turns', CLAUDE_CODE_DEFAULTS.maxTurns, {
        integer: true,
        min: 1,
        expected: 'a whole number, 1 or more',
      }),
    };
    const model = section.optionalString('model');
    if (model !== undefined) options.model = model;
    const sources = sourcesOf(section, { enabled: 'enabled', command: 'command', timeoutSecs: 'timeout_secs', maxTurns: 'max_turns' });
    return { options, sources: model === undefined ? sources : { ...sources, model: 'config' } };
  },
  create(options, logger) {
    return ClaudeCodeProvider.fromConfig(options, logger);
  },
};
