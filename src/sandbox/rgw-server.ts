/**
 * A real S3 on loopback: Ceph's RADOS Gateway (RGW) over a throwaway one-monitor, one-OSD cluster,
 * for the integration tests. s3rver is a fake that needed patches; RGW is the S3 many providers run.
 *
 * Everything lives in one temp directory: ceph.conf, the monitor's and the OSD's data, logs, admin
 * sockets. Ceph 16 (Debian's `radosgw ceph-mon ceph-osd`) has no single-process backend, so this is a
 * real cluster, kept small: no cephx (`auth … required = none`), pools of size 1, no manager.
 *
 * Start-up takes about 2 s on two shared cores, because monitor changes are proposed at once rather
 * than once a second (`paxos propose interval`): radosgw creates its pools one by one at first start.
 * The OSD keeps objects in RAM (memstore) by default; LIFEBOAT_RGW_OBJECTSTORE=bluestore writes them
 * to a sparse file instead (about 8 s to start).
 *
 * No orphans: every daemon runs in its own process group, listed in the directory's `pids` file. A
 * watchdog shell kills those groups and deletes the directory as soon as the process that started
 * the sandbox is gone (a test run killed with SIGKILL included), and the next start sweeps any
 * directory whose owner is dead, in case the watchdog was killed too.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './postgres-cluster.js';
import type { S3Sandbox } from './s3-server.js';

const run = promisify(execFile);
const DIR_PREFIX = 'lifeboat-rgw-';

export interface RgwServerOptions {
  /** `memstore` keeps objects in RAM (fastest start); `bluestore` writes them to a sparse file. */
  objectStore?: 'memstore' | 'bluestore';
  /** Give up if S3 does not answer within this time. */
  startTimeoutMs?: number;
  /** Called with each startup step and its elapsed time, for measuring. */
  onStep?: (step: string, elapsedMs: number) => void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills each daemon's process group, if that pid is still one of this sandbox's daemons (pids get reused). */
function killGroups(directory: string): void {
  const pids = existsSync(join(directory, 'pids')) ? readFileSync(join(directory, 'pids'), 'utf8').split(/\s+/).filter(Boolean).map(Number) : [];
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(directory)) continue;
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Removes what earlier runs left behind when both their owner and its watchdog died. */
function sweepStaleSandboxes(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const directory = join(tmpdir(), name);
    const ownerFile = join(directory, 'owner');
    if (!existsSync(ownerFile)) continue;
    const owner = Number(readFileSync(ownerFile, 'utf8').trim());
    if (owner && alive(owner)) continue;
    killGroups(directory);
    rmSync(directory, { recursive: true, force: true });
  }
}

function cephConf(directory: string, monPort: number, rgwPort: number, fsid: string, objectStore: 'memstore' | 'bluestore'): string {
  const store =
    objectStore === 'memstore'
      ? ['osd objectstore = memstore', 'memstore device bytes = 8589934592']
      : [
          'osd objectstore = bluestore',
          // Outside the OSD's directory: inside it, mkfs fails with ELOOP ("Too many levels of symbolic links").
          `bluestore block path = ${directory}/osd.$id.block`,
          'bluestore block create = true',
          'bluestore block size = 21474836480',
          'bluestore cache autotune = false',
          'bluestore cache size = 134217728',
        ];
  return [
    '[global]',
    `fsid = ${fsid}`,
    `mon host = [v2:127.0.0.1:${monPort}]`,
    'mon initial members = a',
    // No cephx inside a throwaway cluster on loopback.
    'auth cluster required = none',
    'auth service required = none',
    'auth client required = none',
    `keyring = ${directory}/keyring`,
    `run dir = ${directory}/run`,
    `admin socket = ${directory}/run/$cluster-$name.asok`,
    `pid file = ${directory}/run/$name.pid`,
    `log file = ${directory}/log/$name.log`,
    `mon data = ${directory}/$name`,
    `osd data = ${directory}/$name`,
    'ms bind ipv4 = true',
    'ms bind ipv6 = false',
    // One OSD: pools of one copy, few placement groups, nothing that waits for more hardware.
    'mon allow pool size one = true',
    'mon allow pool delete = true',
    'mon warn on pool no redundancy = false',
    'osd pool default size = 1',
    'osd pool default min size = 1',
    'osd pool default pg num = 8',
    'osd pool default pgp num = 8',
    'osd pool default pg autoscale mode = off',
    'osd crush chooseleaf type = 0',
    // A nearly full disk would otherwise stop the monitor.
    'mon data avail crit = 0',
    'mon data avail warn = 0',
    // Each monitor change (a pool, a map) would otherwise wait up to a second to be proposed.
    'paxos propose interval = 0.01',
    'paxos min wait = 0.001',
    'osd op num shards = 1',
    'osd op num threads per shard = 2',
    ...store,
    '',
    '[client]',
    // radosgw's built-in defaults ask for cephx and a "secure" monitor connection; without these it
    // retries `get_initial_auth_request returned -13` forever.
    'auth client required = none',
    'ms mon client mode = crc',
    '',
    '[client.rgw]',
    'auth client required = none',
    'ms mon client mode = crc',
    `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
    `rgw data = ${directory}/rgw`,
    // Otherwise radosgw waits 120 s after SIGTERM.
    'rgw exit timeout secs = 5',
    'rgw thread pool size = 64',
    'rgw enable usage log = false',
    'rgw dns name = 127.0.0.1',
    '',
  ].join('\n');
}

const COMMANDS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'];

function requireCommands(): void {
  const path = (process.env.PATH ?? '').split(':').filter(Boolean);
  const missing = COMMANDS.filter((command) => !path.some((dir) => existsSync(join(dir, command))));
  if (missing.length > 0) {
    throw new Error(
      `The RGW sandbox needs ${missing.join(', ')}, which are not installed. ` +
        'Install them with: sudo apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd',
    );
  }
}

export async function startRgwServer(options: RgwServerOptions = {}): Promise<S3Sandbox> {
  requireCommands();
  // The free ports are found before the daemons bind them, and other programs on a shared machine may
  // take one in between: a second attempt, on new ports, makes that harmless.
  try {
    return await startOnce(options);
  } catch (error) {
    process.emitWarning(`The RGW sandbox failed to start; trying once more. ${(error as Error).message.split('\n')[0]}`);
    return await startOnce(options);
  }
}

async function startOnce(options: RgwServerOptions): Promise<S3Sandbox> {
  const started = Date.now();
  const step = (name: string) => options.onStep?.(name, Date.now() - started);
  sweepStaleSandboxes();
  const objectStore = options.objectStore ?? (process.env.LIFEBOAT_RGW_OBJECTSTORE === 'bluestore' ? 'bluestore' : 'memstore');
  const directory = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  for (const sub of ['run', 'log', 'mon.a', 'osd.0', 'rgw']) mkdirSync(join(directory, sub));
  writeFileSync(join(directory, 'owner'), String(process.pid));
  writeFileSync(join(directory, 'pids'), '');

  const addGroup = (pid: number) => appendFileSync(join(directory, 'pids'), `${pid}\n`);
  // Kills every daemon's group and deletes the directory once this process is gone, however it died.
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; for p in $(cat "$2/pids"); do grep -qF "$2" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "-$p"; done; rm -rf "$2"',
      'lifeboat-rgw-watchdog',
      String(process.pid),
      directory,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  writeFileSync(join(directory, 'watchdog'), String(watchdog.pid));

  const daemons: { name: string; child: ChildProcess; exit: Promise<void> }[] = [];
  const conf = join(directory, 'ceph.conf');
  // Rejects as soon as a daemon dies during startup (a port taken meanwhile, a bad setting), so that
  // the steps waiting on it fail at once instead of at their timeouts.
  let daemonDied: (error: Error) => void = () => {};
  const anyDaemonDies = new Promise<never>((_, reject) => (daemonDied = reject));
  anyDaemonDies.catch(() => {});
  const daemon = (name: string, command: string, args: string[]) => {
    const log = openSync(join(directory, 'log', `${name}.stderr`), 'a');
    const child = spawn(command, ['-c', conf, '-f', ...args], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    const entry = { name, child, exit: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
    child.once('exit', (code, signal) => {
      if (!stopped) daemonDied(new Error(`${name} exited (${signal ?? `code ${code}`}) during startup`));
    });
    addGroup(child.pid!);
    daemons.push(entry);
  };

  // A throwaway cluster has nothing worth a clean shutdown: SIGKILL is immediate.
  const tools = new AbortController();
  const killAll = () => {
    tools.abort();
    killGroups(directory);
    try {
      process.kill(-watchdog.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.once('exit', killAll);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killAll);
    killAll();
    // Reaped here, so no zombies are left; ref() keeps this process alive until they are.
    for (const d of daemons) d.child.ref();
    await Promise.all(daemons.map((d) => d.exit));
    rmSync(directory, { recursive: true, force: true });
  };

  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    writeFileSync(conf, cephConf(directory, monPort, rgwPort, fsid, objectStore));
    // The command-line tools are stopped with the daemons if startup fails while they wait.
    const tool = (command: string, args: string[], timeoutMs = 120_000) => run(command, args, { timeout: timeoutMs, signal: tools.signal, killSignal: 'SIGKILL' });
    const ceph = (args: string[]) => tool('ceph', ['-c', conf, '--connect-timeout', '60', ...args]);

    await tool('ceph-authtool', ['--create-keyring', join(directory, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await tool('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(directory, 'monmap')]);
    await tool('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(directory, 'monmap'), '--keyring', join(directory, 'keyring')]);
    step('monitor created');
    daemon('mon.a', 'ceph-mon', ['-i', 'a']);

    const osdUuid = randomUUID();
    const { stdout: osdId } = await Promise.race([ceph(['osd', 'new', osdUuid]), anyDaemonDies]);
    if (osdId.trim() !== '0') throw new Error(`expected OSD id 0, got ${osdId.trim()}`);
    step('monitor answers, OSD registered');
    await tool('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    step('OSD created');
    daemon('osd.0', 'ceph-osd', ['-i', '0']);
    daemon('rgw', 'radosgw', ['-n', 'client.rgw']);

    // radosgw-admin makes the keys and prints them, so the secret is on no command line.
    const { stdout: user } = await Promise.race([
      tool('radosgw-admin', ['-c', conf, 'user', 'create', '--uid', 'lifeboat', '--display-name', 'Lifeboat tests', '--gen-access-key', '--gen-secret']),
      anyDaemonDies,
    ]);
    const key = (JSON.parse(user) as { keys: { access_key: string; secret_key: string }[] }).keys[0]!;
    const { access_key: accessKeyId, secret_key: secretAccessKey } = key;
    step('S3 user created');

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    const deadline = started + (options.startTimeoutMs ?? 120_000);
    for (;;) {
      try {
        await Promise.race([client.send(new ListBucketsCommand({})), anyDaemonDies]);
        break;
      } catch (error) {
        if (/during startup$/.test((error as Error).message)) throw error;
        if (Date.now() > deadline) throw new Error(`RGW did not answer S3 at ${endpoint} in time: ${(error as Error).name}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    client.destroy();
    step('S3 answers');
    return { endpoint, region: 'us-east-1', accessKeyId, secretAccessKey, directory, stop };
  } catch (error) {
    const logs = existsSync(join(directory, 'log'))
      ? readdirSync(join(directory, 'log'))
          .map((f) => `--- ${f}\n${readFileSync(join(directory, 'log', f), 'utf8').split('\n').slice(-15).join('\n')}`)
          .join('\n')
      : '';
    await stop();
    throw new Error(`Could not start the RGW sandbox: ${(error as Error).message}\n${logs}`);
  }
}
