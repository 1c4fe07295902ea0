/**
 * `omega serve`: the gateway as an HTTP service (Ollama, OpenAI and Anthropic front ends).
 */
export { OmegaServer, SERVER_TIMEOUTS } from './server.js';
export type { OmegaServerOptions, ServerContext } from './server.js';
export { ServerGateway } from './gateway-adapter.js';
export type { GatewayAnswer, RoutedChat } from './gateway-adapter.js';
export { ServerMetrics } from './metrics.js';
export { STATUS_BY_CODE, HttpError, clientError, errorBody } from './errors.js';
export type { FrontEnd } from './errors.js';
export { resolveModel } from './routing.js';
export { CONVERSATION_HEADER } from './ollama-api.js';
