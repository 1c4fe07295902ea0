/**
 * The fleet's routing decision as a pure function over a snapshot of host state, so it can be
 * tested exhaustively and timed by the bench without servers. Order: the conversation's sticky
 * host, then hosts where the model is loaded with a free slot, then any host that has the model
 * with a free slot; among equals the least loaded per slot and weight, ties broken at random in
 * proportion to weight × slots (weighted least-connections). Half-open hosts get a single trial only when no closed host can.
 */
import type { HostView, RouteContext, RouteDecision, RouteState } from './types.js';

/** A model name as Ollama keys it: a name without a tag means `:latest`. */
export function modelKey(name: string): string {
  const trimmed = name.trim();
  // A `:` inside a registry host (`host:5000/model`) is not a tag.
  const last = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return last.includes(':') ? trimmed : `${trimmed}:latest`;
}

/** Requests running per unit of capacity (slots × weight); lower is better. */
function loadOf(host: HostView, model: string): number {
  return (host.inFlight.get(model) ?? 0) / (host.slots * host.weight);
}

function hasFreeSlot(host: HostView, model: string): boolean {
  return (host.inFlight.get(model) ?? 0) < host.slots;
}

function hasLabels(host: HostView, labels: readonly string[] | undefined): boolean {
  return labels === undefined || labels.every((l) => host.labels.includes(l));
}

/**
 * The least loaded of `hosts` (all eligible); equal loads are split at random in proportion
 * to weight × slots, so idle traffic spreads by capacity as busy traffic does.
 */
function pick(hosts: readonly HostView[], model: string, random: number): HostView {
  let best = Infinity;
  for (const h of hosts) best = Math.min(best, loadOf(h, model));
  const tied = hosts.filter((h) => loadOf(h, model) <= best * (1 + 1e-9));
  if (tied.length === 1) return tied[0] as HostView;
  let total = 0;
  for (const h of tied) total += h.weight * h.slots;
  let target = random * total;
  for (const h of tied) {
    target -= h.weight * h.slots;
    if (target < 0) return h;
  }
  return tied[tied.length - 1] as HostView;
}

function busyText(host: HostView, model: string): string {
  return `${host.inFlight.get(model) ?? 0}/${host.slots}`;
}

/**
 * Chooses the host for one request for `model` (a normalised name, see {@link modelKey}).
 * Pure: the same arguments always give the same answer.
 */
export function route(model: string, hosts: readonly HostView[], ctx: RouteContext, state: RouteState): RouteDecision {
  const exclude = ctx.exclude;
  const having = hosts.filter((h) => h.models.has(model) && hasLabels(h, ctx.labels) && exclude?.has(h.url) !== true);
  if (having.length === 0) {
    const tried = exclude !== undefined && exclude.size > 0 && hosts.some((h) => h.models.has(model) && exclude.has(h.url));
    return tried
      ? { none: 'all_unhealthy', why: `every host with ${model} was already tried for this request` }
      : { none: 'no_host_has_model', why: `no host${ctx.labels?.length ? ` labelled ${ctx.labels.join(', ')}` : ''} has ${model}` };
  }
  const closed = having.filter((h) => h.circuit === 'closed');
  if (closed.length === 0) {
    const trial = having.filter((h) => h.circuit === 'half_open' && !h.trialBusy && hasFreeSlot(h, model));
    if (trial.length === 0) return { none: 'all_unhealthy', why: `every host with ${model} has its circuit open` };
    const host = pick(trial, model, state.random);
    return {
      host: host.url,
      reason: 'half_open_trial',
      loaded: host.loaded.has(model),
      why: `${host.url}: no healthy host has ${model}, so it gets the one trial request of its half-open circuit`,
    };
  }
  const free = closed.filter((h) => hasFreeSlot(h, model));
  if (free.length === 0) {
    return { none: 'all_full', why: `every healthy host with ${model} is at its slot limit (${closed.map((h) => `${h.url} ${busyText(h, model)}`).join(', ')})` };
  }
  if (ctx.stickyKey !== undefined) {
    const pin = state.sticky.get(ctx.stickyKey);
    if (pin !== undefined && pin.expiresAt > state.now) {
      const host = free.find((h) => h.url === pin.host);
      if (host !== undefined) {
        return { host: host.url, reason: 'sticky', loaded: host.loaded.has(model), why: `${host.url}: the conversation's sticky host, healthy with a free slot (${busyText(host, model)})` };
      }
    }
  }
  const loaded = free.filter((h) => h.loaded.has(model));
  if (loaded.length > 0) {
    const host = pick(loaded, model, state.random);
    const others = free.length - loaded.length;
    return {
      host: host.url,
      reason: 'loaded',
      loaded: true,
      why: `${host.url}: ${model} is loaded there with a free slot (${busyText(host, model)}), least loaded of ${loaded.length} such host(s)${
        others > 0 ? `, preferred over ${others} host(s) that would have to load it` : ''
      }`,
    };
  }
  const host = pick(free, model, state.random);
  return {
    host: host.url,
    reason: 'least_loaded',
    loaded: false,
    why: `${host.url}: ${model} is loaded on no host with a free slot; least loaded per slot and weight of ${free.length} host(s) that have it (${busyText(host, model)})`,
  };
}
