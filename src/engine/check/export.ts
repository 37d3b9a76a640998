/**
 * The check's outputs for machines: a JSON document of metrics, and the same metrics in the Prometheus
 * text exposition format (rendered by prom-client, the registry Node services use), written to a file
 * and, when a Pushgateway URL is given, pushed to it.
 */
import { Gauge, Registry } from 'prom-client';
import { metricFamilies, type MetricFamily } from '../../domain/metrics.js';
import { LifeboatError, networkFailure } from '../errors.js';
import { registerSecret } from '../secrets.js';
import type { CheckResult } from './check.js';

export const METRICS_FORMAT = 'lifeboat-check-metrics/1';

export function checkFamilies(result: CheckResult): MetricFamily[] {
  const fresh = result.findings.filter((f) => !f.skipped).map((f) => ({ space: f.rule.space, trigger: f.rule.trigger, ok: f.ok }));
  const verifiedArtifacts = result.verified.reduce((sum, v) => sum + v.artifacts, 0);
  const verifiedBytes = result.verified.reduce((sum, v) => sum + v.bytes, 0);
  return metricFamilies(result.metrics, {
    ok: result.ok,
    problems: result.problems.length,
    warnings: result.warnings.length + (result.staleKeys?.length ?? 0),
    verifiedArtifacts,
    verifiedBytes,
    fresh,
    now: result.now,
  });
}

/** The JSON metrics document (the `metrics` output and `metrics-file`). */
export function metricsDocument(result: CheckResult) {
  return {
    format: METRICS_FORMAT,
    checkedAt: result.now.toISOString(),
    status: result.ok ? 'ok' : 'failed',
    location: result.location,
    problems: result.problems,
    warnings: result.warnings,
    groups: result.metrics,
    freshness: result.findings.map((f) => ({
      space: f.rule.space,
      trigger: f.rule.trigger,
      kind: f.kind,
      ok: f.ok,
      ...(f.skipped ? { skipped: true } : {}),
      ...(f.rule.maxAge ? { maxAge: f.rule.maxAge } : {}),
      ...(f.backup ? { backupId: f.backup.id } : {}),
      ...(f.ageMs !== undefined ? { ageSeconds: f.ageMs / 1000 } : {}),
      message: f.message,
    })),
    verified: result.verified,
    incomplete: result.incomplete.map((e) => ({ space: e.space, id: e.id, trigger: e.trigger, createdAt: e.createdAt.toISOString(), sizeBytes: e.sizeBytes })),
    invalid: result.invalid,
    ...(result.staleKeys ? { staleKeys: result.staleKeys } : {}),
  };
}

/** A registry holding the families as gauges; its metrics() is the exposition text. */
export function prometheusRegistry(families: readonly MetricFamily[]): Registry {
  const registry = new Registry();
  for (const family of families) {
    const gauge = new Gauge({ name: family.name, help: family.help, labelNames: [...family.labelNames], registers: [registry] });
    for (const sample of family.samples) gauge.set(sample.labels, sample.value);
  }
  return registry;
}

/**
 * Pushes the exposition to a Pushgateway: PUT /metrics/job/lifeboat_check/bucket/<bucket>, which
 * replaces that group, so a space whose backups are gone stops being reported. Credentials in the URL
 * (https://user:password@host) are sent as basic authentication and kept out of logs.
 */
export async function pushToGateway(gatewayUrl: string, registry: Registry, bucket: string, fetchTimeoutMs = 30_000): Promise<string> {
  let url: URL;
  try {
    url = new URL(gatewayUrl);
  } catch {
    throw new LifeboatError(`Input 'pushgateway-url' is not a URL. Give the Pushgateway's base URL, for example https://pushgateway.example.org:9091.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LifeboatError(`Input 'pushgateway-url' uses ${url.protocol}; it must be an http:// or https:// URL, for example https://pushgateway.example.org:9091.`);
  }
  const headers: Record<string, string> = { 'Content-Type': registry.contentType };
  if (url.username || url.password) {
    registerSecret(decodeURIComponent(url.password));
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    registerSecret(headers.Authorization);
    url.username = '';
    url.password = '';
  }
  const base = url.pathname.replace(/\/+$/, '');
  url.pathname = `${base}/metrics/job/lifeboat_check/bucket/${encodeURIComponent(bucket)}`;
  const shown = `${url.origin}${url.pathname}`;
  let response: Response;
  try {
    response = await fetch(url, { method: 'PUT', headers, body: await registry.metrics(), signal: AbortSignal.timeout(fetchTimeoutMs) });
  } catch (error) {
    const why = networkFailure(error) ?? (error as Error).message;
    throw new LifeboatError(`Could not push the metrics to the Pushgateway at ${shown} ('pushgateway-url'): ${why}. Check the URL and that the runner can reach it.`, { cause: error });
  }
  if (!response.ok) {
    const why =
      response.status === 401 || response.status === 403
        ? 'it refused the credentials'
        : response.status === 404
          ? 'there is no Pushgateway at that path'
          : response.status === 400
            ? 'it rejected the metrics as malformed'
            : `it answered HTTP ${response.status}`;
    await response.body?.cancel();
    throw new LifeboatError(`Could not push the metrics to the Pushgateway at ${shown} ('pushgateway-url'): ${why} (HTTP ${response.status}). Check the URL and its credentials.`);
  }
  await response.body?.cancel();
  return shown;
}
