/**
 * The `[provider]` table: the default and fallback names, then each registered provider's own
 * table through its spec. No provider is named here; the registry lists them.
 */
import { PROVIDER_NAMES, PROVIDER_SPECS, isProviderName } from '../providers/registry.js';
import type { ProviderName } from '../providers/registry.js';
import type { ProviderSpec } from '../providers/spec.js';
import { warnUnknownIn, warnUnknownKeys } from './schema.js';
import { Section } from './section.js';
import { suggest } from './suggest.js';
import { dotted, isTable } from './toml.js';
import type { ProvidersSection } from './types.js';

/** The plain keys of `[provider]`; every other key is a provider's table. */
const PROVIDER_KEYS = ['default', 'fallback'] as const;

/** Reads `[provider]` under `root`; see the module comment. */
export function providersOf(root: Section, env: NodeJS.ProcessEnv): ProvidersSection {
  const section = Section.of(root.reader, root, 'provider');
  refuseUnknownProviders(section);
  warnUnknownIn(section, [...PROVIDER_KEYS, ...PROVIDER_NAMES]);
  const defaultName: ProviderName = section.has('default') ? nameOf(section, 'default', section.table.default) : 'ollama';
  const fallbackRaw = section.table.fallback ?? [];
  if (!Array.isArray(fallbackRaw)) throw section.typeError('fallback', 'an array of provider names, such as ["anthropic"]');
  const fallbackNamed = fallbackRaw.map((v) => nameOf(section, 'fallback', v));

  const providers: Record<string, { enabled: boolean }> = {};
  for (const spec of PROVIDER_SPECS as readonly ProviderSpec[]) {
    const own = section.child(spec.name);
    warnUnknownKeys(own, spec.keys);
    const selected = spec.name === defaultName || fallbackNamed.includes(spec.name as ProviderName);
    providers[spec.name] = spec.resolve(own, env, { selected }).options;
  }
  const enabled = (name: ProviderName): boolean => providers[name]?.enabled === true;
  if (!enabled(defaultName)) {
    const reader = section.reader;
    const path = section.has('default') ? section.keyPath('default') : ['provider', defaultName, 'enabled'];
    const how = reader.file === undefined ? '' : ` in ${reader.file}`;
    throw reader.error(
      path,
      `The default provider "${defaultName}" is disabled; set enabled = true under [provider.${defaultName}]${how}, or choose another provider.default.`,
      { expected: 'an enabled provider', hint: `[provider.${defaultName}] enabled = true` },
    );
  }
  const fallback = usableFallbacks(section, fallbackNamed, defaultName, enabled);
  return { default: defaultName, fallback, ...providers } as ProvidersSection;
}

/** Unknown sub-tables are errors (a typo there silently disables a provider); plain keys only warn. */
function refuseUnknownProviders(section: Section): void {
  for (const [key, value] of Object.entries(section.table)) {
    if ((PROVIDER_KEYS as readonly string[]).includes(key) || isProviderName(key) || !isTable(value)) continue;
    const path = section.keyPath(key);
    const guess = suggest(key, PROVIDER_NAMES);
    throw section.error(
      key,
      `[${dotted(path)}] in ${section.where(key)} configures the unknown provider "${key}"; ${
        guess === undefined ? '' : `did you mean [provider.${guess}]? `
      }valid providers are ${PROVIDER_NAMES.join(', ')}.`,
      { expected: `one of ${PROVIDER_NAMES.join(', ')}` },
    );
  }
}

function nameOf(section: Section, key: string, value: unknown): ProviderName {
  const path = section.keyPath(key);
  if (typeof value !== 'string') throw section.reader.typeError(path, `a provider name (${PROVIDER_NAMES.join(', ')})`, value);
  if (isProviderName(value)) return value;
  const guess = suggest(value, PROVIDER_NAMES);
  throw section.error(
    key,
    `${dotted(path)} in ${section.where(key)} names the unknown provider "${value}"; ${
      guess === undefined ? '' : `did you mean ${guess}? `
    }valid providers are ${PROVIDER_NAMES.join(', ')}.`,
    { expected: `one of ${PROVIDER_NAMES.join(', ')}` },
  );
}

/**
 * Fallback entries that cannot be used are dropped with a warning rather than refused: the
 * default still works, and a later fallback failure would be harder to understand.
 */
function usableFallbacks(
  section: Section,
  named: readonly ProviderName[],
  defaultName: ProviderName,
  enabled: (name: ProviderName) => boolean,
): ProviderName[] {
  const fallback: ProviderName[] = [];
  const where = section.where('fallback');
  for (const name of named) {
    if (name === defaultName) {
      section.warn('fallback', `provider.fallback in ${where} lists the default provider "${name}", which is skipped; remove it from the list.`);
    } else if (fallback.includes(name)) {
      section.warn('fallback', `provider.fallback in ${where} lists "${name}" twice; the repeat is skipped.`);
    } else if (!enabled(name)) {
      section.warn(
        'fallback',
        `provider.fallback in ${where} names "${name}", which is disabled and skipped; set enabled = true under [provider.${name}] to use it.`,
      );
    } else {
      fallback.push(name);
    }
  }
  return fallback;
}
