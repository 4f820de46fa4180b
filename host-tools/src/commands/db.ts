/**
 * `sceau db`: moving and keeping a store. `copy` moves an SQLite store into an empty PostgreSQL
 * database (store-copy.ts); `backup` and `restore` copy an SQLite store with SQLite's online
 * backup API. PostgreSQL has its own tools for those (`pg_dump`, `pg_restore`,
 * docs/integrators.md#backups): `backup` of a PostgreSQL store says so rather than reimplement them.
 */
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { checkExistingDatabase } from '../db-open.js';
import { ioError, usageError } from '../errors.js';
import { copyStore, type CopyProgress } from '../store-copy.js';
import { describeUrl, isPostgresUrl } from '../store-pg-connect.js';
import { PgStore } from '../store-pg.js';
import { Store } from '../store.js';
import type { CommandGroup } from './context.js';

export const registerDb: CommandGroup = (program, { io }) => {
  const db = program.command('db').description('move and back up a store: copy SQLite to PostgreSQL, backup and restore');

  db.command('copy')
    .description('copy an SQLite store (registry, frames, replay windows) into an empty PostgreSQL database, verifying the counts')
    .requiredOption('--from <file>', 'the SQLite store (migrated to the current schema first, as any command that writes it)')
    .requiredOption('--to <url>', 'postgres://USER@HOST[:PORT]/DB (an empty database; the schema is created)')
    .option('--json', 'the counts as one JSON object; progress lines stay on stderr')
    .action(async (opts: { from: string; to: string; json?: boolean }) => {
      if (!isPostgresUrl(opts.to)) throw usageError(`--to ${opts.to}: expected postgres://HOST[:PORT]/DB`, 'not-postgres');
      checkExistingDatabase(opts.from);
      const source = Store.open(opts.from);
      let target: PgStore | undefined;
      try {
        target = await PgStore.open(opts.to, { ingest: false });
        let last = '';
        const progress = (p: CopyProgress) => {
          const line = `${p.table}: ${p.done} of ${p.total}`;
          if (line !== last) io.err((last = line));
        };
        const report = await copyStore(source, target, progress);
        if (opts.json) io.out(JSON.stringify({ from: opts.from, to: describeUrl(opts.to), ...report }));
        else io.out(`copied ${report.target.devices} devices, ${report.target.keys} keys, ${report.target.frames} frames, ${report.target.windows} replay windows, ${report.target.contentKeys} wrapped content keys, ${report.target.tombstones} erasure tombstones to ${describeUrl(opts.to)} in ${(report.ms / 1000).toFixed(1)} s; counts match`);
      } finally {
        source.close();
        await target?.close();
      }
    });

  db.command('backup')
    .description('a consistent copy of an SQLite store while the gateway runs (PostgreSQL: pg_dump)')
    .requiredOption('--db <file>', 'the store')
    .requiredOption('--to <file>', 'the backup file (must not exist)')
    .option('--json', 'the result as one JSON object')
    .action(async (opts: { db: string; to: string; json?: boolean }) => {
      if (isPostgresUrl(opts.db)) throw usageError(`${describeUrl(opts.db)}: back up PostgreSQL with its own tool: pg_dump -Fc -f sceau.dump '${describeUrl(opts.db)}' (docs/integrators.md#backups)`, 'use-pg-dump');
      if (existsSync(opts.to)) throw ioError(`${opts.to} exists; a backup never overwrites a file`, 'backup-exists');
      checkExistingDatabase(opts.db);
      const store = Store.open(opts.db, { readonly: true });
      try {
        const { totalPages } = await store.db.backup(opts.to);
        if (opts.json) io.out(JSON.stringify({ db: opts.db, backup: opts.to, pages: totalPages }));
        else io.out(`backed up ${opts.db} to ${opts.to} (${totalPages} pages)`);
      } finally {
        store.close();
      }
    });

  db.command('restore')
    .description('put an SQLite backup in place of a store (stop the gateway first; PostgreSQL: pg_restore)')
    .requiredOption('--from <file>', 'the backup (made by db backup or sqlite3 .backup)')
    .requiredOption('--db <file>', 'the store to restore')
    .option('--force', 'replace an existing store file')
    .option('--json', 'the result as one JSON object')
    .action((opts: { from: string; db: string; force?: boolean; json?: boolean }) => {
      if (isPostgresUrl(opts.db)) throw usageError(`${describeUrl(opts.db)}: restore PostgreSQL with its own tool: pg_restore -d '${describeUrl(opts.db)}' sceau.dump (docs/integrators.md#backups)`, 'use-pg-restore');
      checkExistingDatabase(opts.from);
      if (existsSync(opts.db) && !opts.force) throw ioError(`${opts.db} exists; stop the gateway and add --force to replace it`, 'restore-target-exists');
      // The backup opened as a store first: a file this sceau cannot read is refused before anything is replaced.
      const check = Store.open(opts.from, { readonly: true });
      const version = check.schemaVersion;
      check.close();
      const temporary = `${opts.db}.restoring`;
      copyFileSync(opts.from, temporary);
      for (const suffix of ['-wal', '-shm']) rmSync(`${opts.db}${suffix}`, { force: true });
      renameSync(temporary, opts.db);
      if (opts.json) io.out(JSON.stringify({ db: opts.db, from: opts.from, schemaVersion: version }));
      else io.out(`restored ${opts.db} from ${opts.from} (schema version ${version}); replay windows are those of the backup (docs/integrators.md#backups)`);
    });
};
