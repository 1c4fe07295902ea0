/** Several Ollama hosts behind one provider: the fleet, its router and its shapes. */
export { OllamaFleet } from './fleet.js';
export { conversationKey } from './conversation-key.js';
export type { OllamaFleetOptions } from './fleet.js';
export { modelKey, route } from './router.js';
export { CircuitBreaker, countsAgainstHost } from './health.js';
export { DEFAULT_FLEET_OPTIONS } from './types.js';
export type {
  AcquireOptions,
  CircuitState,
  FleetAttempt,
  FleetEvent,
  FleetHostConfig,
  FleetLease,
  FleetOptions,
  FleetPullOptions,
  FleetPullResult,
  FleetSnapshot,
  HostSnapshot,
  HostView,
  LoadedModelView,
  NoRoute,
  RouteChoice,
  RouteContext,
  RouteDecision,
  RouteNone,
  RouteReason,
  RouteState,
} from './types.js';
