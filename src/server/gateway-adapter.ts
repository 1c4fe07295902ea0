/**
 * The one place where `omega serve` calls into the gateway: routed chats (a client's whole
 * message list) through `Gateway.chat` and `Gateway.chatStream`, which bring fallback before
 * the first chunk, an audit row per attempt, history from memory when a conversation is named,
 * and a cancelled stream stored as interrupted; plus what the server needs besides (provider
 * lookup, and the audit row of an exchange the Ollama front end relayed byte for byte).
 */
import { redactSecrets } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CallOptions, ModelProvider } from '../core/types.js';
import { enabledProviders, isProviderName } from '../gateway/factory.js';
import type { Gateway, GatewayEvent, RoutedChat } from '../gateway/gateway.js';
import type { AuditRecordInput } from '../gateway/memory/sqlite.js';
import type { GatewayAnswer } from '../gateway/types.js';

export type { GatewayAnswer, GatewayEvent, RoutedChat };

/** The server's view of the gateway. */
export class ServerGateway {
  constructor(
    /** The gateway whose providers, config and memory are used. */
    readonly gateway: Gateway,
    private readonly logger: Logger,
  ) {}

  /** Names of the enabled providers, the default first. */
  providers(): string[] {
    const config = this.gateway.config;
    const names = enabledProviders(config).map(String);
    const def = config.provider.default;
    return [def, ...names.filter((n) => n !== def)];
  }

  /** The default provider's name. */
  get defaultProvider(): string {
    return this.gateway.config.provider.default;
  }

  /** The provider called `name`; a ConfigError when it is unknown or disabled. */
  provider(name: string): ModelProvider {
    return this.gateway.provider(name);
  }

  /** True when `name` is a provider this server may route to. */
  isEnabled(name: string): boolean {
    return isProviderName(name) && this.gateway.config.provider[name].enabled;
  }

  /** Answers a routed chat in one piece, with the gateway's fallback, memory and audit. */
  chat(routed: RoutedChat, options: CallOptions = {}): Promise<GatewayAnswer> {
    return this.gateway.chat(routed, options);
  }

  /** Streams a routed chat: `chunk` events as they arrive, then `done`. */
  chatStream(routed: RoutedChat, options: CallOptions = {}): AsyncGenerator<GatewayEvent, void, undefined> {
    return this.gateway.chatStream(routed, options);
  }

  /**
   * Audits an exchange the server relayed to a provider byte for byte (the Ollama front end's
   * pass-through to the Ollama provider), keyed as the gateway keys routed requests: the
   * conversation, else the request id.
   */
  auditRelay(
    routed: RoutedChat,
    r: { provider: string; model: string; started: number; outcome: string; errorMessage?: string; promptTokens?: number; completionTokens?: number; host?: string },
  ): void {
    const memory = this.gateway.memory;
    if (memory === null) return;
    const record: AuditRecordInput = {
      channel: routed.channel,
      conversationId: routed.conversationId ?? routed.requestId ?? '',
      sender: routed.sender,
      provider: r.provider,
      model: r.model,
      outcome: r.outcome,
      durationMs: Math.round(performance.now() - r.started),
    };
    if (r.outcome !== 'ok') {
      record.errorCode = r.outcome;
      if (r.errorMessage !== undefined) record.errorMessage = redactSecrets(r.errorMessage);
    }
    if (r.promptTokens !== undefined) record.promptTokens = r.promptTokens;
    if (r.completionTokens !== undefined) record.completionTokens = r.completionTokens;
    if (r.host !== undefined) record.host = r.host;
    // Not awaited: the relayed answer is already on its way; a failure is logged.
    memory.audit(record).catch((memoryError: unknown) => {
      this.logger.error({ err: String(memoryError) }, 'could not write the audit record of a relayed exchange');
    });
  }

  /** Closes the gateway's providers and memory. */
  async close(): Promise<void> {
    await this.gateway.close();
  }
}
