/**
 * The OpenRouter provider: OpenAI's wire format at OpenRouter, with its attribution headers,
 * its `reasoning` parameter, extra sampling options, a priced model list and its own error codes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiProviderConfig } from '../hosted.js';
import { hostedOptions } from '../hosted.js';
import type { ProviderError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ModelInfo, ThinkSetting } from '../../core/types.js';
import { OpenAICompatibleProvider } from '../openai/compatible.js';
import type { CompatibleIdentity } from '../openai/compatible.js';
import type { ApiErrorContext } from '../openai/errors.js';
import { fromHttpStatus } from '../openai/errors.js';
import type { HttpErrorFacts, HttpErrorOutcome } from '../shared/http-errors.js';
import type { OptionDialect } from '../openai/wire.js';
import type { OpenAICompatibleOptions } from '../openai/types.js';
import { OPENROUTER, toOpenRouterModelInfo } from './wire.js';
import type { OpenRouterWireModel } from './wire.js';

/** OpenRouter's API root. */
export const OPENROUTER_BASE_URL = 'https://openrouter.ai/api/v1';
/** Model used when neither the config nor the call names one: OpenRouter picks one per prompt. */
export const DEFAULT_OPENROUTER_MODEL = 'openrouter/auto';

/** Who the OpenRouter provider is: its names, key variable and defaults. */
export const OPENROUTER_IDENTITY: CompatibleIdentity = {
  name: OPENROUTER,
  label: 'OpenRouter',
  keyEnv: 'OPENROUTER_API_KEY',
  configSection: 'provider.openrouter',
  defaultBaseUrl: OPENROUTER_BASE_URL,
  defaultModel: DEFAULT_OPENROUTER_MODEL,
  missingKeyHint: 'Create a key at https://openrouter.ai/settings/keys.',
};

/** Construction options of {@link OpenRouterProvider}. */
export interface OpenRouterProviderOptions extends OpenAICompatibleOptions {
  /** Your app's URL, sent as `HTTP-Referer` so OpenRouter can attribute usage to it. */
  appUrl?: string;
  /** Your app's name, sent as `X-Title`. */
  appName?: string;
}

/** `[provider.openrouter]`, plus the attribution settings when the config carries them. */
export type OpenRouterConfig = ApiProviderConfig & { appUrl?: string; appName?: string };

/** Sampling options OpenRouter forwards to the models that take them. */
const EXTRA_OPTIONS: Readonly<Record<string, string>> = {
  top_k: 'top_k',
  min_p: 'min_p',
  repeat_penalty: 'repetition_penalty',
};

/** Talks to OpenRouter. */
export class OpenRouterProvider extends OpenAICompatibleProvider {
  /** Always `openrouter`. */
  declare readonly name: 'openrouter';
  /** The `HTTP-Referer` sent, if any. */
  readonly appUrl: string | undefined;
  /** The `X-Title` sent, if any. */
  readonly appName: string | undefined;

  /** Throws a ConfigError when no key is given and `OPENROUTER_API_KEY` is unset. */
  constructor(opts: OpenRouterProviderOptions = {}) {
    const appUrl = opts.appUrl?.trim() || undefined;
    const appName = opts.appName?.trim() || undefined;
    const headers: Record<string, string> = { ...opts.headers };
    if (appUrl !== undefined) headers['http-referer'] = appUrl;
    if (appName !== undefined) headers['x-title'] = appName;
    super(OPENROUTER_IDENTITY, { ...opts, headers });
    this.appUrl = appUrl;
    this.appName = appName;
  }

  /**
   * A provider from the loaded `[provider.openrouter]` section. The loader already read
   * `OPENROUTER_API_KEY`, so the environment is not consulted again.
   */
  static fromConfig(config: OpenRouterConfig, logger?: Logger): OpenRouterProvider {
    return new OpenRouterProvider({
      ...hostedOptions(config, logger),
      ...(config.appUrl === undefined ? {} : { appUrl: config.appUrl }),
      ...(config.appName === undefined ? {} : { appName: config.appName }),
    });
  }

  /** OpenRouter's unified `reasoning` parameter: a level as `effort`, `true` as `enabled`. */
  protected override applyThink(body: Record<string, unknown>, think: ThinkSetting): void {
    if (typeof think === 'string') body.reasoning = { effort: think };
    else if (think) body.reasoning = { enabled: true };
  }

  protected override optionDialect(): OptionDialect {
    return { maxTokensField: 'max_tokens', extra: EXTRA_OPTIONS };
  }

  /** `GET /key` answers only with a valid key, unlike the public model list. */
  protected override availabilityPath(): string {
    return '/key';
  }

  protected override toModelInfo(entry: unknown): ModelInfo | undefined {
    return toOpenRouterModelInfo(entry as OpenRouterWireModel);
  }

  /** OpenRouter's own statuses: 402 is spent credits, a 403 may be a moderation flag rather than the key. */
  protected override httpError(status: number, headers: IncomingHttpHeaders, text: string, ctx: ApiErrorContext): ProviderError {
    return fromHttpStatus(status, headers, text, ctx, openRouterCases);
  }
}

/** OpenRouter's cases before the shared ladder. */
function openRouterCases(f: HttpErrorFacts): HttpErrorOutcome | undefined {
  if (f.status === 402) {
    return {
      code: 'auth',
      message: `OpenRouter refused the request for lack of credits (${f.shown}); add credits at https://openrouter.ai/settings/credits or use a free model.`,
    };
  }
  if (f.status === 403 && /moderat|flagged|guardrail/i.test(f.body.message)) {
    return { code: 'bad_request', message: `OpenRouter refused the prompt (${f.shown}); rephrase it or choose another model.` };
  }
  return undefined;
}
