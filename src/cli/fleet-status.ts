/**
 * `omega status` for an Ollama fleet: every host with whether it is up, its version, its
 * circuit, what runs and waits there and which models it has loaded, plus the problems worth
 * fixing (a host down, the default model on no host). Kept apart from status.ts so the one-host
 * report stays as it was.
 */
import type { HostSnapshot, OllamaFleet } from '../providers/ollama/fleet/index.js';
import { modelKey } from '../providers/ollama/fleet/index.js';
import { hostLabel } from './fleet-pull.js';
import { formatRelativeTime, formatTable, type Style } from './output.js';

/** What the fleet part of a provider's status holds. */
export interface FleetStatusPart {
  available: boolean;
  /** The lowest version any host reports (what every host supports). */
  version?: string;
  model: string;
  modelInstalled: boolean;
  installedModels: number;
  hosts: HostSnapshot[];
  problems: { message: string; nextStep?: string }[];
}

/** Refreshes discovery on every host and reads the fleet's state. */
export async function fleetStatus(fleet: OllamaFleet): Promise<FleetStatusPart> {
  await fleet.refresh();
  const { hosts } = fleet.snapshot();
  const up = hosts.filter((h) => h.up);
  const versions = up.map((h) => h.version).filter((v): v is string => v !== undefined);
  versions.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const wanted = modelKey(fleet.model);
  const having = hosts.filter((h) => h.models.includes(wanted));
  const all = new Set(hosts.flatMap((h) => h.models));
  const part: FleetStatusPart = {
    available: up.length > 0,
    model: fleet.model,
    modelInstalled: having.length > 0,
    installedModels: all.size,
    hosts,
    problems: [],
  };
  if (versions[0] !== undefined) part.version = versions[0];
  for (const h of hosts) {
    if (h.up && h.circuit !== 'open') continue;
    part.problems.push({
      message: `Host ${h.url} is ${h.up ? 'failing (circuit open)' : 'down'}${h.lastError === undefined ? '' : `: ${h.lastError.replace(/[.\s]+$/, '')}`}.`,
      nextStep: `Start Ollama there (\`ollama serve\`) or fix its [[provider.ollama.hosts]] url; the fleet takes it back by itself once it answers.`,
    });
  }
  if (up.length > 0 && having.length === 0) {
    part.problems.push({
      message: `The default model ${fleet.model} is on no host.`,
      nextStep: `Run \`omega pull ${fleet.model} --all-hosts\`, or set \`[provider.ollama] model\` to one that \`omega models\` lists.`,
    });
  }
  return part;
}

/** `expires in 4 minutes`, `stays loaded`. */
function expiry(expiresAt: string | undefined): string {
  if (expiresAt === undefined) return '';
  const relative = formatRelativeTime(new Date(expiresAt));
  return relative === 'forever' ? 'stays loaded' : relative === 'now' ? 'expires now' : `expires ${relative}`;
}

/** The host table lines of `omega status`, without indentation. */
export function fleetHostLines(hosts: readonly HostSnapshot[], style: Style): string[] {
  const rows = hosts.map((h) => [
    hostLabel(h.url),
    h.up ? style.green('up') : style.red('down'),
    h.version ?? '-',
    h.circuit === 'closed' ? h.circuit : style.yellow(h.circuit),
    `${h.inFlight}/${h.maxConcurrent}`,
    String(h.queued),
    h.loaded.length === 0
      ? 'none'
      : h.loaded.map((m) => `${m.model}${m.contextLength === undefined ? '' : ` (${m.contextLength} ctx${m.expiresAt === undefined ? '' : `, ${expiry(m.expiresAt)}`})`}`).join(', '),
  ]);
  return formatTable(['HOST', 'STATE', 'VERSION', 'CIRCUIT', 'IN FLIGHT/SLOTS', 'QUEUED', 'LOADED'], rows, { gap: 2, headerStyle: style.dim });
}
