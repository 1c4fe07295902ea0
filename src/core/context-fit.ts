/**
 * Token accounting for context windows: an estimator of a message's tokens, calibrated per model
 * from the token counts a server reports, and a helper that fits a message list into a token
 * budget. Pure code with no transport, so library users, providers and the gateway share it.
 *
 * Why an estimate at all: a prompt's exact token count is known only after the server has read
 * it, and the point is to decide what to send before sending it.
 */
import type { ChatMessage } from './types.js';

/**
 * What the estimator has learned of one model: characters per token, from the server's own
 * prompt counts. The sums decay (see {@link TokenEstimator.observe}) so the ratio follows the
 * kind of text a conversation actually contains.
 */
export interface TokenCalibration {
  /** Characters of the observed prompts (template overhead excluded). */
  chars: number;
  /** Tokens the server counted for them (template overhead excluded). */
  tokens: number;
  /** How many prompts were observed. */
  samples: number;
}

/**
 * Characters per token assumed before a model has been calibrated. Lower than the usual ~4 of
 * English text on purpose: an uncalibrated estimate should err towards leaving a message out
 * rather than overflowing the window.
 */
export const DEFAULT_CHARS_PER_TOKEN = 3.2;
/** Tokens a chat template adds around each message (role markers, turn separators). */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Tokens a chat template adds once per prompt (start of text, the answer's opening marker). */
export const PROMPT_OVERHEAD_TOKENS = 4;
/**
 * A rough cost of one image. Vision models differ (Gemma 3: 256, LLaVA: 576); the larger
 * guess keeps the estimate on the safe side.
 */
export const IMAGE_TOKENS = 576;
/** Calibration sums stop growing here (both are halved), so old text weighs less than new. */
const DECAY_AT_TOKENS = 200_000;
/** Observed ratios outside this range are not text the estimator should learn from. */
const PLAUSIBLE_CHARS_PER_TOKEN: readonly [number, number] = [0.8, 12];

/** The characters of a message a chat template renders: content, tool calls, the tool's name. */
export function messageChars(message: ChatMessage): number {
  let chars = message.content.length;
  if (message.toolCalls !== undefined) {
    for (const call of message.toolCalls) chars += call.name.length + JSON.stringify(call.arguments).length;
  }
  if (message.toolName !== undefined) chars += message.toolName.length;
  return chars;
}

/**
 * Estimates tokens per model. Each model starts at {@link DEFAULT_CHARS_PER_TOKEN} and learns
 * its own ratio from {@link observe}: the prompt's characters against the `prompt_eval_count`
 * the server reported for it.
 */
export class TokenEstimator {
  private readonly calibrations = new Map<string, TokenCalibration>();

  /** Starts from calibrations learned earlier (e.g. kept in the gateway's memory), by model. */
  constructor(initial?: Iterable<[string, TokenCalibration]>) {
    if (initial !== undefined) for (const [model, c] of initial) this.calibrate(model, c);
  }

  /** Sets a model's calibration (ignored when it is not usable). */
  calibrate(model: string, calibration: TokenCalibration): void {
    if (isUsable(calibration)) this.calibrations.set(model, { ...calibration });
  }

  /** A model's calibration, when it has one. */
  calibration(model: string): TokenCalibration | undefined {
    const c = this.calibrations.get(model);
    return c === undefined ? undefined : { ...c };
  }

  /** Characters per token for `model`: its calibrated ratio, or the default. */
  charsPerToken(model: string | undefined): number {
    const c = model === undefined ? undefined : this.calibrations.get(model);
    return c === undefined ? DEFAULT_CHARS_PER_TOKEN : c.chars / c.tokens;
  }

  /** Whether `model` has been calibrated from at least one server count. */
  isCalibrated(model: string | undefined): boolean {
    return model !== undefined && this.calibrations.has(model);
  }

  /** Estimated tokens of one message in a prompt, template overhead included. */
  message(message: ChatMessage, model?: string): number {
    const images = message.images?.length ?? 0;
    return Math.ceil(messageChars(message) / this.charsPerToken(model)) + MESSAGE_OVERHEAD_TOKENS + images * IMAGE_TOKENS;
  }

  /** Estimated tokens of a whole prompt: its messages plus the prompt's own overhead. */
  prompt(messages: readonly ChatMessage[], model?: string): number {
    let total = PROMPT_OVERHEAD_TOKENS;
    for (const m of messages) total += this.message(m, model);
    return total;
  }

  /**
   * Learns from a prompt the server has counted. Returns false (and learns nothing) when the
   * count cannot be trusted: a prompt with images, a count that looks truncated (the caller
   * says so), or a ratio no text has.
   */
  observe(model: string, messages: readonly ChatMessage[], promptTokens: number): boolean {
    if (!Number.isFinite(promptTokens) || promptTokens <= 0) return false;
    if (messages.some((m) => (m.images?.length ?? 0) > 0)) return false;
    const chars = messages.reduce((sum, m) => sum + messageChars(m), 0);
    const tokens = promptTokens - PROMPT_OVERHEAD_TOKENS - MESSAGE_OVERHEAD_TOKENS * messages.length;
    if (chars < 1 || tokens < 1) return false;
    const ratio = chars / tokens;
    if (ratio < PLAUSIBLE_CHARS_PER_TOKEN[0] || ratio > PLAUSIBLE_CHARS_PER_TOKEN[1]) return false;
    const previous = this.calibrations.get(model) ?? { chars: 0, tokens: 0, samples: 0 };
    const next: TokenCalibration = {
      chars: previous.chars + chars,
      tokens: previous.tokens + tokens,
      samples: previous.samples + 1,
    };
    while (next.tokens > DECAY_AT_TOKENS) {
      next.chars /= 2;
      next.tokens /= 2;
    }
    this.calibrations.set(model, next);
    return true;
  }
}

function isUsable(c: TokenCalibration): boolean {
  if (!(c.chars > 0 && c.tokens > 0 && c.samples > 0)) return false;
  const ratio = c.chars / c.tokens;
  return ratio >= PLAUSIBLE_CHARS_PER_TOKEN[0] && ratio <= PLAUSIBLE_CHARS_PER_TOKEN[1];
}

/** Options of {@link fitMessages}. */
export interface FitOptions {
  /** Tokens the prompt may use: the usable window minus the room kept for the answer. */
  budget: number;
  /**
   * Tokens of the message at `index`, when known exactly (e.g. as a server counted it); the
   * estimate is used where this returns `undefined`.
   */
  tokensOf?: (message: ChatMessage, index: number) => number | undefined;
  /** Estimates the other messages; a fresh, uncalibrated {@link TokenEstimator} when absent. */
  estimator?: TokenEstimator;
  /** The model the estimator's calibration is looked up by. */
  model?: string;
  /** At most this many messages besides the leading system messages and the current turn. */
  maxMessages?: number;
}

/** What {@link fitMessages} kept. */
export interface FitResult {
  /** The messages to send, in their original order. */
  messages: ChatMessage[];
  /** How many messages were left out (always the oldest turns). */
  leftOut: number;
  /** The prompt's tokens as counted or estimated, prompt overhead included. */
  tokens: number;
  /** False when even the system prompt and the current turn exceed the budget. */
  fits: boolean;
}

/**
 * Fits a conversation into a token budget. The leading system messages and the current turn
 * (the last user message and anything after it, such as tool calls and their results) are
 * always kept; earlier turns are dropped oldest first, each turn whole, so a tool call never
 * loses its result and the history never starts mid-turn.
 */
export function fitMessages(messages: readonly ChatMessage[], options: FitOptions): FitResult {
  const estimator = options.estimator ?? new TokenEstimator();
  const cost = messages.map((m, i) => options.tokensOf?.(m, i) ?? estimator.message(m, options.model));
  let system = 0;
  while (system < messages.length && messages[system]?.role === 'system') system++;
  let current = messages.length;
  for (let i = messages.length - 1; i >= system; i--) {
    if (messages[i]?.role === 'user') {
      current = i;
      break;
    }
  }
  if (current === messages.length) current = Math.max(system, messages.length - 1);
  // Earlier turns: each starts at a user message (or at the first message after the system ones).
  const turns: [number, number][] = [];
  let start = system;
  for (let i = system + 1; i <= current; i++) {
    if (i === current || messages[i]?.role === 'user') {
      if (i > start) turns.push([start, i]);
      start = i;
    }
  }
  const sum = (from: number, to: number): number => {
    let s = 0;
    for (let i = from; i < to; i++) s += cost[i] ?? 0;
    return s;
  };
  const fixed = PROMPT_OVERHEAD_TOKENS + sum(0, system) + sum(current, messages.length);
  let total = fixed + sum(system, current);
  let kept = current - system;
  const max = options.maxMessages === undefined ? Infinity : Math.max(0, Math.floor(options.maxMessages));
  let first = 0;
  while (first < turns.length && (total > options.budget || kept > max)) {
    const [from, to] = turns[first] as [number, number];
    total -= sum(from, to);
    kept -= to - from;
    first++;
  }
  const keptFrom = first < turns.length ? (turns[first] as [number, number])[0] : current;
  return {
    messages: [...messages.slice(0, system), ...messages.slice(keptFrom)],
    leftOut: keptFrom - system,
    tokens: total,
    fits: total <= options.budget,
  };
}
