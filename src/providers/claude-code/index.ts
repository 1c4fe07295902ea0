/** The Claude Code CLI provider and its public types. */
export { ClaudeCodeProvider, CLAUDE_CODE_ALIASES } from './provider.js';
export type { ClaudeCodeProviderOptions, ClaudeCodeResult } from './provider.js';
export { renderPrompt, findResult } from './wire.js';
export type { ClaudePrompt, WireResult } from './wire.js';
