/**
 * The gateway's envelope around a provider's answer. A provider reports what it did
 * (`MessageMetadata` in the contract); what the gateway adds (which providers failed first,
 * which conversation the answer belongs to) is the gateway's own type.
 */
import type { MessageMetadata, OutgoingMessage } from '../core/types.js';

/** The gateway's metadata: the provider's, plus the providers that failed before it. */
export interface GatewayMetadata extends MessageMetadata {
  /** Providers tried before this one answered, in order, when the gateway fell back. */
  fallbackFrom?: string[];
  /**
   * How many earlier messages were left out to fit the model's context window (oldest turns
   * first). Set whenever a token budget applied, 0 included.
   */
  messagesLeftOut?: number;
  /** The context window, in tokens, the prompt was fitted into (or the server was asked to use). */
  contextWindow?: number;
  /** The gateway's count of the prompt's tokens before sending: stored server counts plus calibrated estimates. */
  estimatedPromptTokens?: number;
}

/** An answer as the gateway returns it: the provider's answer in the gateway's envelope. */
export interface GatewayAnswer extends OutgoingMessage {
  metadata: GatewayMetadata;
  /** The conversation the answer belongs to. */
  replyTarget?: string;
}

