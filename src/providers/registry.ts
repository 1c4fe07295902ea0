/**
 * The providers Omega ships, one spec each. Adding a provider is one folder under
 * `src/providers/` and one line here: the config loader, `KNOWN_CONFIG_KEYS`, the
 * unknown-key warnings and the gateway's factory all read this list.
 */
import { anthropicSpec } from './anthropic/spec.js';
import { claudeCodeSpec } from './claude-code/spec.js';
import { embeddedSpec } from './embedded/spec.js';
import { ollamaSpec } from './ollama/spec.js';
import { openaiSpec } from './openai/spec.js';
import { openrouterSpec } from './openrouter/spec.js';
import type { OptionsOf, ProviderSpec } from './spec.js';

/** Every provider's spec, in the order `omega status` lists them. */
export const PROVIDER_SPECS = Object.freeze([ollamaSpec, anthropicSpec, openaiSpec, openrouterSpec, claudeCodeSpec, embeddedSpec] as const);

type AnySpec = (typeof PROVIDER_SPECS)[number];

/** Names of the providers Omega knows. */
export type ProviderName = AnySpec['name'];

/** Each provider's resolved options, by name: the provider part of `OmegaConfig`. */
export type ProviderConfigs = { [S in AnySpec as S['name']]: OptionsOf<S> };

/** Every provider name, in the order `omega status` lists them. */
export const PROVIDER_NAMES: readonly ProviderName[] = Object.freeze(PROVIDER_SPECS.map((spec) => spec.name));

/** True when `name` is one of the provider names config.toml accepts. */
export function isProviderName(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** The spec of the provider called `name`. */
export function providerSpec<N extends ProviderName>(name: N): Extract<AnySpec, { name: N }>;
export function providerSpec(name: string): ProviderSpec | undefined;
export function providerSpec(name: string): ProviderSpec | undefined {
  return PROVIDER_SPECS.find((spec) => spec.name === name);
}
