/**
 * Prometheus metrics of an Ollama fleet behind `omega serve`, per host: gauges read from the
 * fleet's snapshot when `/metrics` is scraped (so they cost nothing between scrapes), counters
 * fed by the fleet's events. Registered in the server's own registry (metrics.ts).
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { FleetEvent, OllamaFleet } from '../providers/ollama/fleet/index.js';

const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;

/** What the server's fleet relay reports besides the fleet's own events. */
export interface FleetMetrics {
  /** A relayed call left `from` for another host after a failure with `code`. */
  failover(from: string, code: string): void;
  /** Stops counting the fleet's events. */
  detach(): void;
}

/** Registers the fleet's metrics in `registry` and starts counting its events. */
export function attachFleetMetrics(registry: Registry, fleet: OllamaFleet): FleetMetrics {
  const registers = [registry];
  const snapshot = () => fleet.snapshot();
  new Gauge({
    name: 'omega_fleet_host_up',
    help: 'Whether the host answered its last health probe or discovery call (1) or not (0).',
    labelNames: ['host'],
    registers,
    collect() {
      this.reset();
      for (const h of snapshot().hosts) this.set({ host: h.url }, h.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'omega_fleet_host_circuit_state',
    help: "The host's circuit breaker: 1 for its current state (closed = in rotation, open = skipped, half_open = one trial allowed), 0 for the others.",
    labelNames: ['host', 'state'],
    registers,
    collect() {
      this.reset();
      for (const h of snapshot().hosts) for (const state of CIRCUIT_STATES) this.set({ host: h.url, state }, h.circuit === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'omega_fleet_host_in_flight_requests',
    help: 'Requests running on the host now, all models.',
    labelNames: ['host'],
    registers,
    collect() {
      this.reset();
      for (const h of snapshot().hosts) this.set({ host: h.url }, h.inFlight);
    },
  });
  new Gauge({
    name: 'omega_fleet_host_queued_requests',
    help: "Requests waiting in the fleet's queues for a model the host has.",
    labelNames: ['host'],
    registers,
    collect() {
      this.reset();
      for (const h of snapshot().hosts) this.set({ host: h.url }, h.queued);
    },
  });
  new Gauge({
    name: 'omega_fleet_host_slots',
    help: 'Requests the host runs at once per model (its max_concurrent).',
    labelNames: ['host'],
    registers,
    collect() {
      this.reset();
      for (const h of snapshot().hosts) this.set({ host: h.url }, h.maxConcurrent);
    },
  });
  new Gauge({
    name: 'omega_fleet_host_loaded_models',
    help: 'Models loaded in memory on the host, as its /api/ps last said.',
    labelNames: ['host'],
    registers,
    collect() {
      this.reset();
      for (const h of snapshot().hosts) this.set({ host: h.url }, h.loaded.length);
    },
  });
  new Gauge({
    name: 'omega_fleet_host_info',
    help: 'Always 1; the labels carry the Ollama version the host reports (empty until known).',
    labelNames: ['host', 'version'],
    registers,
    collect() {
      this.reset();
      for (const h of snapshot().hosts) this.set({ host: h.url, version: h.version ?? '' }, 1);
    },
  });
  new Gauge({
    name: 'omega_fleet_queue_waiting_requests',
    help: 'Requests waiting for a free slot, per model.',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset();
      for (const q of snapshot().queues) this.set({ model: q.model }, q.waiting);
    },
  });
  const routed = new Counter({
    name: 'omega_fleet_routed_requests_total',
    help: 'Requests given a slot on a host, by host and why the router chose it (sticky, loaded, least_loaded, half_open_trial).',
    labelNames: ['host', 'reason'],
    registers,
  });
  const failovers = new Counter({
    name: 'omega_fleet_failovers_total',
    help: 'Requests that left a host for the next best one after it failed before the first byte, by the host that failed and the error code.',
    labelNames: ['host', 'code'],
    registers,
  });
  const breaker = new Counter({
    name: 'omega_fleet_breaker_transitions_total',
    help: "Changes of a host's circuit breaker, by host and the state it moved to.",
    labelNames: ['host', 'state'],
    registers,
  });
  const queued = new Counter({
    name: 'omega_fleet_queued_requests_total',
    help: 'Requests that had to wait because every slot for their model was busy.',
    labelNames: ['model'],
    registers,
  });
  const refused = new Counter({
    name: 'omega_fleet_queue_rejections_total',
    help: 'Requests that failed with busy: the queue was full, or the wait hit fleet.queueTimeoutMs.',
    labelNames: ['model', 'reason'],
    registers,
  });
  const onEvent = (e: FleetEvent): void => {
    switch (e.type) {
      case 'route':
        routed.inc({ host: e.host, reason: e.reason });
        break;
      case 'failover':
        failovers.inc({ host: e.from, code: e.code });
        break;
      case 'breaker_open':
        breaker.inc({ host: e.host, state: 'open' });
        break;
      case 'breaker_half_open':
        breaker.inc({ host: e.host, state: 'half_open' });
        break;
      case 'breaker_close':
        breaker.inc({ host: e.host, state: 'closed' });
        break;
      case 'queued':
        queued.inc({ model: e.model });
        break;
      case 'queue_timeout':
        refused.inc({ model: e.model, reason: 'timeout' });
        break;
      case 'queue_full':
        refused.inc({ model: e.model, reason: 'full' });
        break;
      default:
        break;
    }
  };
  const detach = fleet.onEvent(onEvent);
  return {
    failover: (from, code) => failovers.inc({ host: from, code }),
    detach: () => {
      detach();
    },
  };
}
