/**
 * Translation between Omega's shapes and the Claude Code CLI: a conversation rendered as one
 * prompt (the CLI takes a single prompt per run), and the CLI's `result` JSON read back. Pure
 * functions, so the mapping can be tested without a subprocess.
 */
import type { ChatMessage, DoneReason, Usage } from '../../core/types.js';

/** Provider name used in metadata, model ids and errors. */
export const PROVIDER = 'claude-code';

/** What one CLI run is asked to do. */
export interface ClaudePrompt {
  /** Written to the CLI's stdin. */
  prompt: string;
  /** Passed with `--append-system-prompt` (or `--system-prompt`); `''` for none. */
  system: string;
}

/**
 * Renders a message list as one prompt. System messages are merged into the system prompt.
 * A lone user message is sent as is; earlier turns become a tagged transcript before it, since
 * the CLI has no way to take a message history.
 */
export function renderPrompt(messages: readonly ChatMessage[]): ClaudePrompt {
  const system: string[] = [];
  const turns: ChatMessage[] = [];
  for (const m of messages) {
    if (m.role === 'system') {
      if (m.content.trim() !== '') system.push(m.content);
    } else {
      turns.push(m);
    }
  }
  const last = turns.at(-1);
  const current = last !== undefined && last.role === 'user' ? last : undefined;
  const earlier = current === undefined ? turns : turns.slice(0, -1);
  let prompt = '';
  if (earlier.length > 0) {
    prompt += 'The conversation so far, oldest message first:\n\n<conversation>\n';
    for (const m of earlier) prompt += renderTurn(m);
    prompt += '</conversation>\n\n';
    prompt +=
      current === undefined
        ? 'Continue the conversation from its last message.'
        : 'Reply to the next message from the user, which follows.\n\n';
  }
  if (current !== undefined) prompt += current.content;
  return { prompt, system: system.join('\n\n') };
}

function renderTurn(m: ChatMessage): string {
  let attrs = `role="${m.role}"`;
  if (m.role === 'tool' && m.toolName !== undefined) attrs += ` tool="${m.toolName}"`;
  let body = m.content;
  if (m.toolCalls !== undefined) {
    for (const call of m.toolCalls) {
      body += `${body === '' ? '' : '\n'}<tool_call name="${call.name}">${JSON.stringify(call.arguments)}</tool_call>`;
    }
  }
  return `<message ${attrs}>\n${body}\n</message>\n`;
}

/** The fields of the CLI's final `{"type":"result",...}` object that Omega reads. */
export interface WireResult {
  type: 'result';
  subtype?: string;
  is_error?: boolean;
  result?: string;
  model?: string;
  session_id?: string;
  num_turns?: number;
  duration_ms?: number;
  total_cost_usd?: number;
  usage?: WireUsage;
  /** Newer CLIs: usage per model, keyed by the full model name. */
  modelUsage?: Record<string, unknown>;
}

/** The Messages API usage object, as the CLI passes it through. */
export interface WireUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/**
 * The `result` object in the CLI's stdout: one JSON object (`--output-format json`), a JSON
 * array of messages (what `--verbose` turns it into), or JSON lines; `undefined` when none is there.
 */
export function findResult(stdout: string): WireResult | undefined {
  const text = stdout.trim();
  if (text === '') return undefined;
  const whole = tryParse(text);
  if (whole !== undefined) return pickResult(whole);
  // Anything printed around the JSON (a warning on stdout): the last line that is a result.
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const r = pickResult(tryParse((lines[i] as string).trim()));
    if (r !== undefined) return r;
  }
  return undefined;
}

function tryParse(text: string): unknown {
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function pickResult(value: unknown): WireResult | undefined {
  if (Array.isArray(value)) {
    for (let i = value.length - 1; i >= 0; i--) {
      const r = pickResult(value[i]);
      if (r !== undefined) return r;
    }
    return undefined;
  }
  return isResult(value) ? value : undefined;
}

/** True for an object with `type: "result"`. */
export function isResult(value: unknown): value is WireResult {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'result';
}

/** Token counts of a result; cache reads and writes count as prompt tokens. */
export function toUsage(u: WireUsage | undefined): Usage {
  const usage: Usage = {};
  if (u === undefined || u === null) return usage;
  const parts = [u.input_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens].filter(
    (n): n is number => typeof n === 'number',
  );
  if (parts.length > 0) usage.promptTokens = parts.reduce((a, b) => a + b, 0);
  if (typeof u.output_tokens === 'number') usage.completionTokens = u.output_tokens;
  if (usage.promptTokens !== undefined || usage.completionTokens !== undefined) {
    usage.totalTokens = (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0);
  }
  return usage;
}

/**
 * The model that answered: the result's `model` when present, else the one `modelUsage` names
 * (the one with the most output when there are several), else `fallback`.
 */
export function modelOf(r: WireResult, fallback: string): string {
  if (typeof r.model === 'string' && r.model !== '') return r.model;
  const usage = r.modelUsage;
  if (typeof usage === 'object' && usage !== null) {
    let best: string | undefined;
    let bestOut = -1;
    for (const [name, value] of Object.entries(usage)) {
      const out = (value as { outputTokens?: unknown } | null)?.outputTokens;
      const n = typeof out === 'number' ? out : 0;
      if (n > bestOut) {
        best = name;
        bestOut = n;
      }
    }
    if (best !== undefined) return best;
  }
  return fallback;
}

/** Why the run stopped, in {@link DoneReason} terms: `stop`, or the CLI's own subtype. */
export function doneReasonOf(r: WireResult): DoneReason {
  if (r.subtype === undefined || r.subtype === 'success') return 'stop';
  if (r.subtype === 'error_max_turns') return 'max_turns';
  return r.subtype;
}

/** The result's text, `''` when it has none. */
export function resultText(r: WireResult): string {
  return typeof r.result === 'string' ? r.result : '';
}
