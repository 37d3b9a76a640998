import pg from 'pg';
import { startPostgresCluster } from '../../src/sandbox/postgres-cluster.js';
import { generateDatabase } from './dataset.js';
const units = Number(process.argv[2] ?? 64);
const cluster = await startPostgresCluster();
try {
  const c = new pg.Client({ connectionString: cluster.url }); await c.connect(); await c.query('CREATE DATABASE bench'); await c.end();
  const stats = await generateDatabase(cluster.urlFor('bench'), units, (l) => console.log(l));
  console.log(JSON.stringify(stats, null, 1));
  const { execFileSync } = await import('node:child_process');
  const t = Date.now();
  execFileSync('bash', ['-c', `${cluster.binDir}/pg_dump -Fc -Z0 -d '${cluster.urlFor('bench')}' > /tmp/benchdev/z0.dump && ls -l /tmp/benchdev/z0.dump && zstd -3 -f -q /tmp/benchdev/z0.dump -o /tmp/benchdev/z0.zst && gzip -6 -c /tmp/benchdev/z0.dump > /tmp/benchdev/z0.gz && ls -l /tmp/benchdev/`], { stdio: 'inherit' });
  console.log('dump+compress', Date.now() - t);
} finally { await cluster.stop(); }
