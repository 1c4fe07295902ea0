/** The Claude Code CLI provider and its public types. */
export { ClaudeCodeProvider, CLAUDE_CODE_ALIASES, CLAUDE_CODE_DEFAULTS } from './provider.js';
export { claudeCodeSpec } from './spec.js';
export type { ClaudeCodeConfig } from './spec.js';
export type { ClaudeCodeProviderOptions, ClaudeCodeResult } from './provider.js';
export { renderPrompt, findResult } from './wire.js';
export type { ClaudePrompt, WireResult } from './wire.js';
