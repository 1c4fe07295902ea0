/**
 * Prometheus metrics of `omega serve`, in a registry of their own (never prom-client's global
 * one, so embedding Omega in a program with its own metrics cannot collide).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds; from a cache hit on loopback to a cold model load. */
const TIME_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The server's metrics. */
export class ServerMetrics {
  /** The registry `/metrics` renders. */
  readonly registry = new Registry();
  readonly requests: Counter<'front_end' | 'provider' | 'model' | 'status'>;
  readonly errors: Counter<'front_end' | 'code'>;
  readonly ttfb: Histogram<'front_end'>;
  readonly duration: Histogram<'front_end' | 'provider'>;
  readonly tokens: Counter<'direction' | 'provider' | 'model'>;
  readonly inFlight: Gauge<'front_end'>;
  readonly fallbacks: Counter<'from' | 'to'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'omega_server_requests_total',
      help: 'Requests answered, by front end, provider, model and HTTP status.',
      labelNames: ['front_end', 'provider', 'model', 'status'],
      registers,
    });
    this.errors = new Counter({
      name: 'omega_server_errors_total',
      help: 'Failed requests by front end and error code (including failures mid-stream).',
      labelNames: ['front_end', 'code'],
      registers,
    });
    this.ttfb = new Histogram({
      name: 'omega_server_time_to_first_byte_seconds',
      help: 'Time from request received to the first response byte.',
      labelNames: ['front_end'],
      buckets: TIME_BUCKETS,
      registers,
    });
    this.duration = new Histogram({
      name: 'omega_server_request_duration_seconds',
      help: 'Time from request received to response finished.',
      labelNames: ['front_end', 'provider'],
      buckets: TIME_BUCKETS,
      registers,
    });
    this.tokens = new Counter({
      name: 'omega_server_tokens_total',
      help: 'Tokens in (prompt) and out (completion) as the provider reported them.',
      labelNames: ['direction', 'provider', 'model'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'omega_server_in_flight_requests',
      help: 'Requests being answered now.',
      labelNames: ['front_end'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'omega_server_fallbacks_total',
      help: 'Answers given by a fallback provider, by the provider that failed first and the one that answered.',
      labelNames: ['from', 'to'],
      registers,
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'omega_' });
  }
}
