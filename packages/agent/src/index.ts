/**
 * `@grapevine/agent`: the `grapevine` command (agent, demo, members, keygen) and the pieces it is
 * made of, for embedding the agent's HTTP API next to your own cluster.
 * @packageDocumentation
 */
export { startHttpApi, type HttpApi, type HttpApiOptions, type HttpRoute } from './http-api.js';
export { memberToJson, memberEventToJson, type MemberJson, type EventJson } from './event-json.js';
export { renderPrometheus, metricName, DROP_REASONS, PrometheusExporter, type PrometheusExporterOptions } from './prometheus.js';
export { AgentMetrics } from './metrics.js';
export { createAgentLogger, type AgentLoggerOptions } from './logger.js';
export { dashboardRoutes, statsRoute, type DashboardRoutes, type DashboardRoutesOptions, type StatsSources, type RingOwnership } from './stats-route.js';
