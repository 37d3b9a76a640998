/**
 * One operation's platform session (binding: cloudfoundry): every key it makes (backup bucket,
 * media bucket, database) and every way to the database it opens, and how to give them all back.
 *
 * Keys go through one CfBindings, so one journal records them all (planned names before creation),
 * and the action's post step or the CLI's signal handler can delete whatever is left.
 * `release()` closes the tunnel first (it uses the database key), then deletes every key; if
 * anything cannot be undone, it throws an error naming what is left and how to remove it by hand.
 */
import type { KeyPurpose } from '../../domain/platform-binding.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BucketSettings } from '../s3/client.js';
import { bindS3Bucket } from './bucket.js';
import { bindDatabase, directReach, tunnelThroughApp, type Reached, type TunnelOpener } from './database.js';
import { CfBindings, DEFAULT_STALE_KEY_AGE_MS, UnbindError, type BindingJournal, type CfTarget, type SweepOptions, type SweepResult } from './lifecycle.js';
import type { BucketOverrides } from './s3-credentials.js';

/** What an operation binds; all in one space ('cf-space'), instances shared into it included. */
export interface PlatformPlan {
  target: CfTarget;
  backupBucket: { instance: string; overrides: BucketOverrides };
  mediaBucket?: { instance: string; overrides: BucketOverrides };
  database?: { instance: string; tunnelApp?: string };
  /** Instances whose stale keys the sweep covers without this operation binding them (prune). */
  sweepOnly?: { instance: string; purpose: KeyPurpose }[];
}

export interface SessionOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with the session as soon as it exists, before any key: a signal handler can then release it. */
  onOpen?: (session: PlatformSession) => void;
  /** How to open a tunnel through 'cf-tunnel-app' (tunnelThroughApp by default). */
  openTunnel?: TunnelOpener;
  signal?: AbortSignal;
}

export class PlatformSession {
  backupBucket?: BucketSettings;
  mediaBucket?: BucketSettings;
  /** postgres:// URL of the database (sslmode=require), a masked secret. */
  databaseUrl?: string;
  /** host:port/database from the key (and the tunnel's app): how the database is named to people. */
  databaseLabel?: string;
  private readonly ways: { what: string; reached: Reached }[] = [];

  private constructor(
    readonly bindings: CfBindings,
    private readonly plan: PlatformPlan,
    private readonly log: Logger,
  ) {}

  /**
   * Logs in and binds everything the plan names: the backup bucket, the media bucket, the database
   * (and its tunnel). If any of it fails, what was already made is released before this throws.
   */
  static async open(plan: PlatformPlan, operation: string, journal: BindingJournal, log: Logger, options: SessionOptions = {}): Promise<PlatformSession> {
    const bindings = await CfBindings.open(plan.target, operation, journal, log);
    const session = new PlatformSession(bindings, plan, log);
    options.onOpen?.(session);
    try {
      await session.bindAll(options);
    } catch (error) {
      await session.release().catch((cleanup: unknown) => log.warning(errorMessage(cleanup)));
      throw error;
    }
    return session;
  }

  private async bindAll(options: SessionOptions): Promise<void> {
    const { plan } = this;
    this.backupBucket = await bindS3Bucket(this.bindings, plan.backupBucket.instance, plan.backupBucket.overrides, this.log, { env: options.env, purpose: 'backup bucket' });
    if (plan.mediaBucket) {
      this.mediaBucket = await bindS3Bucket(this.bindings, plan.mediaBucket.instance, plan.mediaBucket.overrides, this.log, { env: options.env, purpose: 'media bucket' });
    }
    if (plan.database) {
      const { tunnelApp } = plan.database;
      const openTunnel = options.openTunnel ?? tunnelThroughApp;
      const reach = tunnelApp
        ? async (destination: { host: string; port: number }) => {
            const reached = await openTunnel(this.bindings, { app: tunnelApp, destination, log: this.log, signal: options.signal });
            this.ways.push({ what: `the tunnel through app '${tunnelApp}'`, reached });
            return reached;
          }
        : directReach;
      const database = await bindDatabase(this.bindings, plan.database.instance, this.log, { env: options.env, reach });
      this.databaseUrl = database.url;
      // What logs, summaries and manifests call the database: its own name, not the tunnel's local port.
      const { host, port, database: name } = database.credentials;
      this.databaseLabel = `${host}:${port}/${name}${tunnelApp ? ` (through app '${tunnelApp}')` : ''}`;
    }
  }

  /** Keys made and not yet deleted, and ways still open. */
  get outstanding(): number {
    return this.bindings.outstanding.length + this.ways.length;
  }

  /**
   * Closes every tunnel, then deletes every key. Throws an UnbindError naming each key left (with
   * `cf delete-service-key`), or a LifeboatError naming a tunnel that would not close.
   */
  async release(): Promise<void> {
    const stuck: string[] = [];
    for (const way of this.ways.splice(0).reverse()) {
      try {
        await way.reached.close();
      } catch (error) {
        stuck.push(`Could not close ${way.what} (local port ${way.reached.port}): ${errorMessage(error)}.`);
      }
    }
    try {
      await this.bindings.unbindAll();
    } catch (error) {
      if (error instanceof UnbindError && stuck.length) throw new UnbindError(error.left, stuck.join(' '));
      throw error;
    }
    if (stuck.length) throw new LifeboatError(`${stuck.join(' ')} Its process ends with this step.`);
  }

  /**
   * Deletes Lifeboat keys older than the threshold (24 h by default) on every instance of the plan:
   * keys that crashed runs left behind. Never this session's own keys.
   */
  async sweepStaleKeys(options: Partial<SweepOptions> = {}): Promise<SweepResult> {
    const { plan } = this;
    const instances: { instance: string; purpose: KeyPurpose }[] = [
      { instance: plan.backupBucket.instance, purpose: 'backup bucket' },
      ...(plan.mediaBucket ? [{ instance: plan.mediaBucket.instance, purpose: 'media bucket' as const }] : []),
      ...(plan.database ? [{ instance: plan.database.instance, purpose: 'database' as const }] : []),
      ...(plan.sweepOnly ?? []),
    ];
    const total: SweepResult = { deleted: [], failed: [], kept: [] };
    const seen = new Set<string>();
    for (const { instance, purpose } of instances) {
      if (seen.has(instance)) continue;
      seen.add(instance);
      let result: SweepResult;
      try {
        result = await this.bindings.sweepStaleKeys(instance, { olderThanMs: DEFAULT_STALE_KEY_AGE_MS, ...options, purpose });
      } catch (error) {
        // One instance that cannot be listed must not keep the others from being swept.
        total.failed.push({ name: `(the keys of '${instance}', ${purpose})`, message: errorMessage(error) });
        continue;
      }
      total.deleted.push(...result.deleted);
      total.failed.push(...result.failed);
      total.kept.push(...result.kept);
      if (result.stale) (total.stale ??= []).push(...result.stale);
    }
    return total;
  }
}
