/**
 * The store's schema as numbered migrations. Migration N takes a database from schema version
 * N - 1 to N; a new database runs them all, from 1. Every backend shares the numbering: a later
 * issue that changes the schema (PostgreSQL, privacy) appends one migration, with each backend's
 * way of applying it, and none invents its own version number. Migrations run in one transaction
 * with the version recorded after each (`meta.schema_version`), so applying them again is no
 * change, and a failure leaves the database as it was.
 */
import type Database from 'better-sqlite3';
import { DEVICES_VIEW, nameLooksLikeId, REGISTRY_TABLES } from './device-registry.js';
import { StoreError } from './store-errors.js';

/** A device renamed by migration 3 (a name two devices shared, or one that reads as a kid or DevEUI). */
export interface MigrationRename {
  kid: string;
  from: string;
  to: string;
}

export interface Migration {
  version: number;
  /** What the version changes, in one line. */
  description: string;
  /** SQLite: applies the change (inside the caller's transaction); may report renames. */
  sqlite(db: Database.Database): MigrationRename[] | void;
  /**
   * PostgreSQL: the same change as SQL statements, run in the caller's transaction
   * (store-pg-migrate.ts). PostgreSQL databases start at this sceau, so they always run every
   * migration from 1 in one go; each form still takes version N - 1 to N.
   */
  postgres: string;
}

// json_extract rather than ->> (SQLite 3.38): an older SQLite client must still be able to parse
// the schema, or it cannot open the file at all.
export const READINGS_VIEW = `
CREATE VIEW IF NOT EXISTS readings (frame_id, position, kid, counter, channel, name, value, unit, raw, age, at) AS
  SELECT f.id, r.key, f.kid, f.counter, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'),
    json_extract(r.value, '$[3]'), json_extract(r.value, '$[4]'), json_extract(r.value, '$[5]'), json_extract(r.value, '$[6]')
  FROM frames AS f, json_each(f.readings) AS r
  WHERE f.readings IS NOT NULL;
`;

const VERSION_1 = `
CREATE TABLE devices (kid TEXT PRIMARY KEY, public_key BLOB NOT NULL, name TEXT, dev_eui TEXT UNIQUE, revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE TABLE frames (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, source TEXT NOT NULL, outcome TEXT NOT NULL, kid TEXT, counter INTEGER, detail TEXT, raw BLOB NOT NULL);
CREATE INDEX frames_kid ON frames (kid, received_at);
CREATE UNIQUE INDEX frames_accepted ON frames (kid, counter) WHERE outcome = 'ok';
CREATE TABLE readings (id INTEGER PRIMARY KEY, frame_id INTEGER NOT NULL REFERENCES frames (id), kid TEXT NOT NULL, counter INTEGER NOT NULL, channel INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, raw INTEGER NOT NULL, age INTEGER NOT NULL, at INTEGER);
CREATE INDEX readings_kid_at ON readings (kid, at);
CREATE TABLE replay_windows (kid TEXT PRIMARY KEY, highest INTEGER NOT NULL, bitmap TEXT NOT NULL, updated_at INTEGER NOT NULL);
`;

/**
 * Version 2 keeps the readings of a frame in its row, as JSON, shown one per row through the
 * `readings` view, and indexes frames once (bench/README.md has the figures). One index for two
 * jobs: a device's frames by kid, and a counter of a key accepted at most once whatever happens
 * above this layer (accepted frames share the third column, 0; any other frame is told apart by
 * its id).
 */
const VERSION_2 = `
ALTER TABLE frames ADD COLUMN readings TEXT;
UPDATE frames SET readings = (
  SELECT json_group_array(json_array(channel, name, value, unit, raw, age, at))
  FROM (SELECT * FROM readings AS r WHERE r.frame_id = frames.id ORDER BY r.id)
) WHERE outcome = 'ok';
DROP INDEX IF EXISTS readings_kid_at;
DROP TABLE readings;
DROP INDEX IF EXISTS frames_kid;
DROP INDEX IF EXISTS frames_accepted;
CREATE UNIQUE INDEX IF NOT EXISTS frames_by_kid ON frames (kid, counter, (CASE WHEN outcome = 'ok' THEN 0 ELSE id END));
${READINGS_VIEW}`;

/**
 * Version 3 splits the registry into devices (a unique name, a DevEUI) and their keys (one
 * registered at most, the others revoked after a rotation); `devices` becomes a view with the
 * version-2 table's columns. Names that version 2 let two devices share, or that look like a kid
 * or a DevEUI, are renamed `name~kid` (all the devices of a shared name: none silently keeps it),
 * recorded in `meta` under `renamed_by_migration_3`.
 */
function version3(db: Database.Database): MigrationRename[] {
  const rows = db.prepare<[], { kid: string; name: string | null }>('SELECT kid, name FROM devices ORDER BY rowid').all();
  const count = new Map<string, number>();
  for (const r of rows) if (r.name !== null) count.set(r.name, (count.get(r.name) ?? 0) + 1);
  const renames = rows
    .filter((r): r is { kid: string; name: string } => r.name !== null && (count.get(r.name)! > 1 || nameLooksLikeId(r.name)))
    .map((r) => ({ kid: r.kid, from: r.name, to: `${r.name}~${r.kid}` }));
  const rename = db.prepare('UPDATE devices SET name = ? WHERE kid = ?');
  for (const r of renames) rename.run(r.to, r.kid);
  db.exec(`${REGISTRY_TABLES}
    INSERT INTO registry_devices (id, name, dev_eui, created_at) SELECT rowid, name, dev_eui, created_at FROM devices;
    INSERT INTO registry_keys (id, kid, device_id, public_key, state, created_at, revoked_at)
      SELECT rowid, kid, rowid, public_key, CASE WHEN revoked = 0 THEN 'registered' ELSE 'revoked' END, created_at, revoked_at FROM devices;`);
  // The readings view again (IF NOT EXISTS): a version-2 file made without it still gets it.
  db.exec(`DROP TABLE devices;
    ${DEVICES_VIEW}
    ${READINGS_VIEW}`);
  if (renames.length > 0) db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('renamed_by_migration_3', ?)").run(JSON.stringify(renames));
  return renames;
}

/**
 * Version 4 (the console, issue 18) counts frames per key, hour and
 * outcome in `frame_hours`, kept by a trigger in the transaction that stores the frames: the
 * fleet's last 24 hours by code and its last-seen times are read from about 24 rows per key
 * rather than from every frame (bench/console-summary.mjs measures the trigger's cost to ingest).
 * Frames without kid count under ''. Hours are `received_at / 3,600,000`. The trigger also drops
 * the hours older than FRAME_HOURS_KEPT (a seek to the table's first row when there are none): an
 * hour's rows leave with the first frame stored an hour later.
 */
export const FRAME_HOURS_KEPT = 7 * 24;

export const FRAME_HOURS = `
CREATE TABLE IF NOT EXISTS frame_hours (hour INTEGER NOT NULL, kid TEXT NOT NULL, outcome TEXT NOT NULL, frames INTEGER NOT NULL, last_at INTEGER NOT NULL, PRIMARY KEY (hour, kid, outcome)) WITHOUT ROWID;
INSERT INTO frame_hours (hour, kid, outcome, frames, last_at)
  SELECT received_at / 3600000, coalesce(kid, ''), outcome, count(*), max(received_at) FROM frames
  WHERE received_at / 3600000 > (SELECT max(received_at) / 3600000 FROM frames) - ${FRAME_HOURS_KEPT} GROUP BY 1, 2, 3;
CREATE TRIGGER IF NOT EXISTS frame_hours_count AFTER INSERT ON frames BEGIN
  INSERT INTO frame_hours (hour, kid, outcome, frames, last_at) VALUES (NEW.received_at / 3600000, coalesce(NEW.kid, ''), NEW.outcome, 1, NEW.received_at)
    ON CONFLICT (hour, kid, outcome) DO UPDATE SET frames = frames + 1, last_at = max(last_at, excluded.last_at);
  DELETE FROM frame_hours WHERE hour <= NEW.received_at / 3600000 - ${FRAME_HOURS_KEPT};
END;
`;

/**
 * Version 4 on PostgreSQL: the same table, kept by a statement trigger in the committing
 * transaction. It counts the statement's new frames grouped and upserts the groups in key order
 * (hour, kid, outcome): instances committing at once lock the rows they share in the same order,
 * so they wait for each other and never deadlock (a row trigger would lock them in each batch's
 * frame order: two batches with a malformed frame and a rejected one in opposite orders could).
 */
const PG_FRAME_HOURS = `
CREATE TABLE frame_hours (hour bigint NOT NULL, kid text NOT NULL, outcome text NOT NULL, frames bigint NOT NULL, last_at bigint NOT NULL, PRIMARY KEY (hour, kid, outcome));
INSERT INTO frame_hours (hour, kid, outcome, frames, last_at)
  SELECT received_at / 3600000, coalesce(kid, ''), outcome, count(*), max(received_at) FROM frames
  WHERE received_at / 3600000 > (SELECT max(received_at) / 3600000 FROM frames) - ${FRAME_HOURS_KEPT} GROUP BY 1, 2, 3;
CREATE FUNCTION sceau_frame_hours_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO frame_hours (hour, kid, outcome, frames, last_at)
    SELECT received_at / 3600000, coalesce(kid, ''), outcome, count(*), max(received_at) FROM new_frames GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (hour, kid, outcome) DO UPDATE SET frames = frame_hours.frames + excluded.frames, last_at = greatest(frame_hours.last_at, excluded.last_at);
  DELETE FROM frame_hours WHERE hour <= (SELECT max(received_at) FROM new_frames) / 3600000 - ${FRAME_HOURS_KEPT};
  RETURN NULL;
END $$;
CREATE TRIGGER frame_hours_count AFTER INSERT ON frames REFERENCING NEW TABLE AS new_frames FOR EACH STATEMENT EXECUTE FUNCTION sceau_frame_hours_count();
`;

// PostgreSQL forms. Ids are identities, times bigint ms, bytes bytea, readings JSON text (cast
// to jsonb by the view).
const PG_VERSION_1 = `
CREATE TABLE devices (kid text PRIMARY KEY, public_key bytea NOT NULL, name text, dev_eui text UNIQUE, revoked integer NOT NULL DEFAULT 0, created_at bigint NOT NULL, revoked_at bigint);
CREATE TABLE frames (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, received_at bigint NOT NULL, source text NOT NULL, outcome text NOT NULL, kid text, counter bigint, detail text, raw bytea NOT NULL);
CREATE INDEX frames_kid ON frames (kid, received_at);
CREATE UNIQUE INDEX frames_accepted ON frames (kid, counter) WHERE outcome = 'ok';
CREATE TABLE readings (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, frame_id bigint NOT NULL REFERENCES frames (id), kid text NOT NULL, counter bigint NOT NULL, channel integer NOT NULL, name text NOT NULL, value double precision NOT NULL, unit text NOT NULL, raw bigint NOT NULL, age bigint NOT NULL, at bigint);
CREATE INDEX readings_kid_at ON readings (kid, at);
CREATE TABLE replay_windows (kid text PRIMARY KEY, highest bigint NOT NULL, bitmap text NOT NULL, updated_at bigint NOT NULL);
`;

/**
 * Version 2 on PostgreSQL: readings in the frame's row. The partial unique index stays (a
 * counter of a key accepted at most once, across every instance: docs/architecture.md#several-instances);
 * frames by kid use the same index for `kid = ?` and one on (kid, counter) for the rest.
 */
const PG_VERSION_2 = `
ALTER TABLE frames ADD COLUMN readings text;
UPDATE frames SET readings = (
  SELECT json_agg(json_build_array(r.channel, r.name, r.value, r.unit, r.raw, r.age, r.at) ORDER BY r.id)::text
  FROM readings AS r WHERE r.frame_id = frames.id
) WHERE outcome = 'ok';
DROP TABLE readings;
DROP INDEX frames_kid;
CREATE INDEX frames_by_kid ON frames (kid, counter);
CREATE VIEW readings (frame_id, position, kid, counter, channel, name, value, unit, raw, age, at) AS
  SELECT f.id, r.ord - 1, f.kid, f.counter, (r.v->>0)::integer, r.v->>1, (r.v->>2)::double precision, r.v->>3, (r.v->>4)::bigint, (r.v->>5)::bigint, (r.v->>6)::bigint
  FROM frames AS f CROSS JOIN LATERAL jsonb_array_elements(f.readings::jsonb) WITH ORDINALITY AS r(v, ord)
  WHERE f.readings IS NOT NULL;
`;

/**
 * Version 3 on PostgreSQL: the registry split, and a trigger that tells every instance of a
 * registry change (`registry_version` in meta, and NOTIFY sceau_registry), however it was made.
 * Names shared or kid-like are renamed as on SQLite (`name~kid`).
 */
const PG_VERSION_3 = `
UPDATE devices AS d SET name = d.name || '~' || d.kid
  WHERE d.name IS NOT NULL AND ((SELECT count(*) FROM devices AS o WHERE o.name = d.name) > 1 OR regexp_replace(d.name, '[-:\s]', '', 'g') ~* '^[0-9a-f]{16}$');
CREATE TABLE registry_devices (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text UNIQUE, dev_eui text UNIQUE, created_at bigint NOT NULL);
CREATE TABLE registry_keys (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, kid text NOT NULL UNIQUE, device_id bigint NOT NULL REFERENCES registry_devices (id),
  public_key bytea NOT NULL, state text NOT NULL CHECK (state IN ('registered', 'revoked')), created_at bigint NOT NULL, revoked_at bigint);
CREATE INDEX registry_keys_by_device ON registry_keys (device_id);
CREATE UNIQUE INDEX registry_one_registered_key ON registry_keys (device_id) WHERE state = 'registered';
INSERT INTO registry_devices (name, dev_eui, created_at) SELECT name, dev_eui, created_at FROM devices ORDER BY created_at, kid;
INSERT INTO registry_keys (kid, device_id, public_key, state, created_at, revoked_at)
  SELECT d.kid, r.id, d.public_key, CASE WHEN d.revoked = 0 THEN 'registered' ELSE 'revoked' END, d.created_at, d.revoked_at
  FROM devices AS d JOIN registry_devices AS r ON r.created_at = d.created_at AND r.name IS NOT DISTINCT FROM d.name AND r.dev_eui IS NOT DISTINCT FROM d.dev_eui;
DROP TABLE devices;
CREATE VIEW devices (kid, public_key, name, dev_eui, revoked, created_at, revoked_at) AS
  SELECT k.kid, k.public_key, d.name, d.dev_eui, k.state = 'revoked', k.created_at, k.revoked_at
  FROM registry_keys AS k JOIN registry_devices AS d ON d.id = k.device_id;
INSERT INTO meta (key, value) VALUES ('registry_version', '0') ON CONFLICT (key) DO NOTHING;
CREATE FUNCTION sceau_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'registry_version';
  PERFORM pg_notify('sceau_registry', '');
  RETURN NULL;
END $$;
CREATE TRIGGER registry_keys_changed AFTER INSERT OR UPDATE OR DELETE ON registry_keys FOR EACH STATEMENT EXECUTE FUNCTION sceau_registry_changed();
CREATE TRIGGER registry_devices_changed AFTER INSERT OR UPDATE OR DELETE ON registry_devices FOR EACH STATEMENT EXECUTE FUNCTION sceau_registry_changed();
`;

/**
 * Version 5 (privacy, issue 17; docs/privacy.md). `frames.encrypted`: for an accepted record
 * version 2, the bytes of readings it keeps encrypted (inside `raw`; its clear operational
 * readings are in `readings`), null otherwise. `content_keys`: each device key's content key,
 * only as wrapped for its data owner (HPKE, content-key-wrap.ts). `erased_keys`: the tombstone
 * of `sceau devices erase` (kid, what was deleted, when), which also refuses the key from then
 * on. `registry_devices.retention_ms`: a device's own retention, over `gateway serve --retention`.
 */
const VERSION_5 = `
ALTER TABLE frames ADD COLUMN encrypted INTEGER;
CREATE TABLE content_keys (kid TEXT PRIMARY KEY, owner_key_id TEXT NOT NULL, suite TEXT NOT NULL, enc TEXT NOT NULL, ciphertext TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE erased_keys (kid TEXT PRIMARY KEY, frames INTEGER NOT NULL, readings INTEGER NOT NULL, content_key INTEGER NOT NULL, erased_at INTEGER NOT NULL);
ALTER TABLE registry_devices ADD COLUMN retention_ms INTEGER;
`;

/** Version 5 on PostgreSQL: the same columns and tables. */
const PG_VERSION_5 = `
ALTER TABLE frames ADD COLUMN encrypted integer;
CREATE TABLE content_keys (kid text PRIMARY KEY, owner_key_id text NOT NULL, suite text NOT NULL, enc text NOT NULL, ciphertext text NOT NULL, created_at bigint NOT NULL);
CREATE TABLE erased_keys (kid text PRIMARY KEY, frames bigint NOT NULL, readings bigint NOT NULL, content_key integer NOT NULL, erased_at bigint NOT NULL);
ALTER TABLE registry_devices ADD COLUMN retention_ms bigint;
`;

/**
 * Version 6 (privacy, issue 17: data minimisation; docs/privacy.md#radio-metadata).
 * `frames.radio`: the radio metadata of the uplinks that carried a frame (gateways, RSSI, SNR,
 * their locations; frequency and spreading factor), JSON, one entry per uplink (a frame
 * reassembled from fragments keeps one per fragment). Written only by a gateway started with
 * `--keep-radio-metadata`, null otherwise; it lives in the frame's row, so erasure and
 * retention delete it with the frame.
 */
const VERSION_6 = `
ALTER TABLE frames ADD COLUMN radio TEXT;
`;

/** Version 6 on PostgreSQL: the same column, JSON text as `readings` is. */
const PG_VERSION_6 = `
ALTER TABLE frames ADD COLUMN radio text;
`;

/** Every migration, numbered from 1 without gaps (a test checks). Append only. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'registry (devices), frames, readings, replay windows', sqlite: (db) => void db.exec(VERSION_1), postgres: PG_VERSION_1 },
  { version: 2, description: "readings as JSON in the frame's row; one index on frames", sqlite: (db) => void db.exec(VERSION_2), postgres: PG_VERSION_2 },
  { version: 3, description: 'registry split into devices and their keys', sqlite: version3, postgres: PG_VERSION_3 },
  { version: 4, description: 'frames counted per key, hour and outcome (frame_hours) for the console', sqlite: (db) => void db.exec(FRAME_HOURS), postgres: PG_FRAME_HOURS },
  { version: 5, description: 'privacy: encrypted frames, wrapped content keys, erasure tombstones, per-device retention', sqlite: (db) => void db.exec(VERSION_5), postgres: PG_VERSION_5 },
  { version: 6, description: 'radio metadata of the uplinks that carried a frame (kept only with --keep-radio-metadata)', sqlite: (db) => void db.exec(VERSION_6), postgres: PG_VERSION_6 },
];

/** The schema version this sceau writes: the last migration's. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The schema version recorded in a database (undefined for a new one); a newer one is refused. */
export function schemaVersionOf(db: Database.Database, file: string): number | undefined {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").get() !== undefined;
  const row = hasMeta ? db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get() : undefined;
  if (row === undefined) return undefined;
  const version = Number(row.value);
  if (!Number.isInteger(version) || version < 1 || version > SCHEMA_VERSION) throw new StoreError('schema-too-new', `${file}: schema version ${row.value}, this sceau reads versions 1 to ${SCHEMA_VERSION}`);
  return version;
}

/**
 * Applies the migrations a database lacks, in one transaction, recording the version after each;
 * returns the versions applied and the renames reported. Idempotent: a database at
 * SCHEMA_VERSION is left as it is.
 */
export function migrateSqlite(db: Database.Database, file: string): { applied: number[]; renamed: MigrationRename[] } {
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const applied: number[] = [];
  const renamed: MigrationRename[] = [];
  db.transaction(() => {
    const from = schemaVersionOf(db, file) ?? 0;
    const record = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)");
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      renamed.push(...(m.sqlite(db) ?? []));
      record.run(String(m.version));
      applied.push(m.version);
    }
  })();
  return { applied, renamed };
}
