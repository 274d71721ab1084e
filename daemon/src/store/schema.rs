//! Schema migrations. Each entry is applied once, in order, in its own transaction, and recorded
//! in `schema_version`. Never edit a released migration; add a new one.

use rusqlite::Connection;

use super::StoreError;

/// The migrations, oldest first. The schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: raw intake, derived attendance, outbox, audit log.
    r#"
    -- Everything exactly as received. Raw rows are never modified or deleted by rules, so
    -- verdicts can be recomputed when rules change.
    CREATE TABLE raw_events (
        id             INTEGER PRIMARY KEY,
        received_utc   TEXT    NOT NULL,
        source         TEXT    NOT NULL,
        device         TEXT    NOT NULL,
        payload        BLOB    NOT NULL,
        payload_sha256 TEXT    NOT NULL,
        UNIQUE (source, device, payload_sha256)
    );

    -- Attendance records derived from raw events, one per distinct punch.
    CREATE TABLE attendance (
        record_id      TEXT PRIMARY KEY,
        raw_id         INTEGER NOT NULL REFERENCES raw_events(id),
        source         TEXT    NOT NULL,
        device         TEXT    NOT NULL,
        employee       TEXT    NOT NULL,
        occurred_utc   TEXT    NOT NULL,
        occurred_local TEXT    NOT NULL,
        state          INTEGER NOT NULL,
        verify         INTEGER,
        verdict        TEXT    NOT NULL DEFAULT 'accepted',
        reasons        TEXT    NOT NULL DEFAULT '[]',
        created_utc    TEXT    NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX attendance_by_employee_day ON attendance (employee, occurred_local);
    CREATE INDEX attendance_by_day ON attendance (occurred_local);
    CREATE INDEX attendance_by_raw ON attendance (raw_id);

    -- Records waiting to be forwarded, in chain order. Each row carries the exact body that is
    -- sent and its place in the gateway's hash chain, fixed in the same transaction that stored
    -- the record. A row is marked forwarded only after the provincial server acknowledged its
    -- batch, and deleted only after retention (or, under disk pressure, oldest forwarded first).
    CREATE TABLE outbox (
        seq            INTEGER PRIMARY KEY,
        record_id      TEXT    NOT NULL UNIQUE,
        kind           TEXT    NOT NULL,
        body           TEXT    NOT NULL,
        prev_hash      TEXT    NOT NULL,
        hash           TEXT    NOT NULL,
        enqueued_utc   TEXT    NOT NULL,
        batch_id       TEXT,
        forwarded_utc  TEXT
    );
    CREATE INDEX outbox_unsent ON outbox (seq) WHERE forwarded_utc IS NULL;
    CREATE INDEX outbox_forwarded ON outbox (forwarded_utc) WHERE forwarded_utc IS NOT NULL;

    -- Small facts about this database: its chain id and head, last successful forward.
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (key, value) VALUES
        ('chain_id', lower(hex(randomblob(8)))),
        ('chain_seq', '0'),
        ('chain_head', '0000000000000000000000000000000000000000000000000000000000000000');

    -- Who did what, when and why.
    CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY,
        at_utc  TEXT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail  TEXT NOT NULL DEFAULT ''
    );
    "#,
    // 2: readers: status for the UI and a per-reader cursor into its attendance log.
    r#"
    CREATE TABLE devices (
        name           TEXT PRIMARY KEY,
        kind           TEXT NOT NULL,
        serial         TEXT,
        address        TEXT,
        online         INTEGER NOT NULL DEFAULT 0,
        last_seen_utc  TEXT,
        last_error     TEXT,
        drift_s        INTEGER,
        firmware       TEXT,
        platform       TEXT,
        users          INTEGER,
        records        INTEGER,
        updated_utc    TEXT NOT NULL
    );
    -- How many entries of a reader's attendance log (by serial) are already stored. Updated in
    -- the same transaction as the punches, so a restart neither re-reads nor skips any.
    CREATE TABLE device_cursors (
        serial        TEXT PRIMARY KEY,
        log_position  INTEGER NOT NULL,
        updated_utc   TEXT NOT NULL
    );
    "#,
    // 3: tablets, roster, travel orders, check-ins with their evidence, retained photos.
    r#"
    -- Registered tablets. Only the SHA-256 of the (random, high-entropy) MQTT password and the
    -- tablet's X25519 public key are kept; nothing here lets anyone act as a tablet.
    CREATE TABLE tablets (
        id              TEXT PRIMARY KEY,
        name            TEXT NOT NULL,
        password_sha256 TEXT NOT NULL,
        public_key      TEXT NOT NULL,
        created_utc     TEXT NOT NULL,
        revoked_utc     TEXT,
        last_seen_utc   TEXT
    );
    CREATE TABLE employees (
        nip            TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        unit           TEXT NOT NULL DEFAULT '',
        position       TEXT NOT NULL DEFAULT '',
        schedule_group TEXT NOT NULL DEFAULT '',
        home_lat       REAL,
        home_lon       REAL,
        active         INTEGER NOT NULL DEFAULT 1,
        updated_utc    TEXT NOT NULL
    );
    -- Official travel (dinas luar) with its order (SPT), entered by an operator.
    CREATE TABLE travel_orders (
        id          INTEGER PRIMARY KEY,
        nip         TEXT NOT NULL,
        spt_number  TEXT NOT NULL,
        date_from   TEXT NOT NULL,
        date_to     TEXT NOT NULL,
        created_utc TEXT NOT NULL,
        created_by  TEXT NOT NULL
    );
    CREATE INDEX travel_orders_by_nip ON travel_orders (nip, date_from);
    -- One row per tablet check-in: the evidence behind the verdict, and the reply that was sent.
    CREATE TABLE checkins (
        record_id       TEXT PRIMARY KEY,
        tablet          TEXT NOT NULL,
        nonce           TEXT NOT NULL,
        nip             TEXT NOT NULL,
        mode            TEXT NOT NULL,
        client_time_utc TEXT NOT NULL,
        received_utc    TEXT NOT NULL,
        local_day       TEXT NOT NULL,
        lat             REAL,
        lon             REAL,
        accuracy_m      REAL,
        photo_sha256    TEXT NOT NULL,
        photo_dhash     INTEGER NOT NULL,
        verdict         TEXT NOT NULL,
        findings        TEXT NOT NULL,
        reply           TEXT NOT NULL,
        counted         INTEGER NOT NULL DEFAULT 1,
        UNIQUE (tablet, nonce)
    );
    CREATE INDEX checkins_by_nip ON checkins (nip, received_utc);
    CREATE INDEX checkins_by_photo ON checkins (photo_sha256);
    CREATE INDEX checkins_by_coords ON checkins (nip, lat, lon);
    -- Selfies kept only for review (rejected / needs review) until keep_until_utc (UU PDP).
    CREATE TABLE checkin_photos (
        record_id      TEXT PRIMARY KEY,
        jpeg           BLOB NOT NULL,
        keep_until_utc TEXT NOT NULL
    );
    "#,
];

/// The schema version this binary writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`CURRENT_VERSION`]. Refuses a database written by a newer binary.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied_utc TEXT NOT NULL
        )",
    )?;
    let have: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if have > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found: have,
            supported: CURRENT_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(have as usize) {
        let version = i as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_utc) VALUES (?1, ?2)",
            rusqlite::params![version, jiff::Timestamp::now().to_string()],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(CURRENT_VERSION)
}
