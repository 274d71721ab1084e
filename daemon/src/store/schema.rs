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
    // operator web UI (issue 6): operator accounts, browser sessions, review decisions.
    r#"
    -- Operator accounts; passwords as argon2id PHC strings. Locked for a while after repeated
    -- failed logins.
    CREATE TABLE operators (
        name             TEXT PRIMARY KEY,
        role             TEXT NOT NULL,
        password_hash    TEXT NOT NULL,
        must_change      INTEGER NOT NULL DEFAULT 0,
        failed_logins    INTEGER NOT NULL DEFAULT 0,
        locked_until_utc TEXT,
        disabled         INTEGER NOT NULL DEFAULT 0,
        created_utc      TEXT NOT NULL,
        updated_utc      TEXT NOT NULL
    );
    -- Browser sessions: only the SHA-256 of the cookie token is kept, with the CSRF token.
    CREATE TABLE sessions (
        token_sha256 TEXT PRIMARY KEY,
        operator     TEXT NOT NULL,
        csrf         TEXT NOT NULL,
        created_utc  TEXT NOT NULL,
        expires_utc  TEXT NOT NULL
    );
    CREATE INDEX sessions_by_operator ON sessions (operator);
    -- Review decisions on check-ins that needed review. The check-in's evidence row keeps the
    -- verdict the rules gave; the attendance row carries the decided one.
    CREATE TABLE reviews (
        id               INTEGER PRIMARY KEY,
        record_id        TEXT NOT NULL,
        decision         TEXT NOT NULL,
        previous_verdict TEXT NOT NULL,
        note             TEXT NOT NULL,
        operator         TEXT NOT NULL,
        at_utc           TEXT NOT NULL
    );
    CREATE INDEX reviews_by_record ON reviews (record_id);
    "#,
    // attendance rules and recap (issue 6): work schedules, holidays, manual entries (leave, WFH).
    r#"
    -- Named work schedules ("kelompok jadwal"). Employees pick one by employees.schedule_group;
    -- an empty or unknown group means the one marked is_default.
    CREATE TABLE schedule_groups (
        name                TEXT PRIMARY KEY,
        label               TEXT    NOT NULL,
        late_tolerance_min  INTEGER NOT NULL DEFAULT 0,
        early_tolerance_min INTEGER NOT NULL DEFAULT 0,
        is_default          INTEGER NOT NULL DEFAULT 0,
        updated_utc         TEXT    NOT NULL
    );
    -- Working hours per ISO weekday (1 = Monday .. 7 = Sunday), office wall time HH:MM. A
    -- weekday without a row is a day off for the group.
    CREATE TABLE schedule_days (
        grp         TEXT    NOT NULL REFERENCES schedule_groups(name) ON DELETE CASCADE,
        weekday     INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
        start_local TEXT    NOT NULL,
        end_local   TEXT    NOT NULL,
        PRIMARY KEY (grp, weekday)
    );
    INSERT INTO schedule_groups (name, label, late_tolerance_min, early_tolerance_min, is_default, updated_utc) VALUES
        ('reguler', 'Reguler 5 hari (Senin-Kamis 07.30-16.00, Jumat 07.30-11.30)', 0, 0, 1, '2026-01-01T00:00:00Z'),
        ('6-hari',  '6 hari kerja (Senin-Kamis 07.30-14.00, Jumat 07.30-11.00, Sabtu 07.30-12.30)', 0, 0, 0, '2026-01-01T00:00:00Z');
    INSERT INTO schedule_days (grp, weekday, start_local, end_local) VALUES
        ('reguler', 1, '07:30', '16:00'), ('reguler', 2, '07:30', '16:00'),
        ('reguler', 3, '07:30', '16:00'), ('reguler', 4, '07:30', '16:00'),
        ('reguler', 5, '07:30', '11:30'),
        ('6-hari', 1, '07:30', '14:00'), ('6-hari', 2, '07:30', '14:00'),
        ('6-hari', 3, '07:30', '14:00'), ('6-hari', 4, '07:30', '14:00'),
        ('6-hari', 5, '07:30', '11:00'), ('6-hari', 6, '07:30', '12:30');
    -- National holidays (libur-nasional) and collective leave (cuti-bersama): not working days.
    CREATE TABLE holidays (
        day         TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        kind        TEXT NOT NULL DEFAULT 'libur-nasional',
        updated_utc TEXT NOT NULL
    );
    -- 2026: SKB Menteri Agama, Menteri Ketenagakerjaan dan Menteri PANRB No. 1497, 2 dan 5
    -- Tahun 2025 (17 libur nasional, 8 cuti bersama).
    INSERT INTO holidays (day, name, kind, updated_utc) VALUES
        ('2026-01-01', 'Tahun Baru 2026 Masehi', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-01-16', 'Isra Mikraj Nabi Muhammad SAW', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-02-16', 'Cuti bersama Tahun Baru Imlek', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-02-17', 'Tahun Baru Imlek 2577 Kongzili', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-03-18', 'Cuti bersama Hari Suci Nyepi', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-03-19', 'Hari Suci Nyepi (Tahun Baru Saka 1948)', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-03-20', 'Cuti bersama Idul Fitri 1447 H', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-03-21', 'Idul Fitri 1447 H', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-03-22', 'Idul Fitri 1447 H', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-03-23', 'Cuti bersama Idul Fitri 1447 H', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-03-24', 'Cuti bersama Idul Fitri 1447 H', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-04-03', 'Wafat Yesus Kristus', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-04-05', 'Kebangkitan Yesus Kristus (Paskah)', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-05-01', 'Hari Buruh Internasional', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-05-14', 'Kenaikan Yesus Kristus', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-05-15', 'Cuti bersama Kenaikan Yesus Kristus', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-05-27', 'Idul Adha 1447 H', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-05-28', 'Cuti bersama Idul Adha 1447 H', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-05-31', 'Hari Raya Waisak 2570 BE', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-06-01', 'Hari Lahir Pancasila', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-06-16', '1 Muharam Tahun Baru Islam 1448 H', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-08-17', 'Proklamasi Kemerdekaan Republik Indonesia', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-08-25', 'Maulid Nabi Muhammad SAW', 'libur-nasional', '2026-01-01T00:00:00Z'),
        ('2026-12-24', 'Cuti bersama Kelahiran Yesus Kristus', 'cuti-bersama', '2026-01-01T00:00:00Z'),
        ('2026-12-25', 'Kelahiran Yesus Kristus', 'libur-nasional', '2026-01-01T00:00:00Z');
    -- Manual entries by an operator: leave (izin, sakit, cuti) and WFH assignments, each a date
    -- range. Append-only: a correction is a new row whose `supersedes` names the row it replaces,
    -- a cancellation is a row of kind 'batal' superseding it. An entry is in force when no other
    -- row supersedes it. Each row is also queued in the outbox (kind 'manual-entry').
    CREATE TABLE manual_entries (
        id          TEXT PRIMARY KEY,
        nip         TEXT NOT NULL,
        kind        TEXT NOT NULL,
        date_from   TEXT NOT NULL,
        date_to     TEXT NOT NULL,
        note        TEXT NOT NULL DEFAULT '',
        entered_by  TEXT NOT NULL,
        created_utc TEXT NOT NULL,
        supersedes  TEXT REFERENCES manual_entries(id)
    );
    CREATE INDEX manual_entries_by_nip ON manual_entries (nip, date_from);
    CREATE UNIQUE INDEX manual_entries_superseded ON manual_entries (supersedes) WHERE supersedes IS NOT NULL;
    "#,
    // push-mode readers, roster sync to readers, fingerprint templates (issue 7).
    r#"
    -- Push readers that called with a serial number not in the config: logged and listed for
    -- the operator; approving one lets it upload. Bounded by push.max_unknown rows.
    CREATE TABLE push_unknown (
        serial         TEXT PRIMARY KEY,
        first_seen_utc TEXT NOT NULL,
        last_seen_utc  TEXT NOT NULL,
        remote_addr    TEXT NOT NULL DEFAULT '',
        requests       INTEGER NOT NULL DEFAULT 0,
        approved_utc   TEXT,
        approved_by    TEXT
    );
    -- Last upload stamp per push reader and table, returned in the handshake so a reader resumes
    -- where it stopped. Written in the same transaction as the lines it covers.
    CREATE TABLE push_stamps (
        serial      TEXT NOT NULL,
        tbl         TEXT NOT NULL,
        stamp       TEXT NOT NULL,
        updated_utc TEXT NOT NULL,
        PRIMARY KEY (serial, tbl)
    );
    -- Commands queued for push readers (served by /iclock/getrequest as C:<id>:<command>).
    -- `subject` names what the command changes (user:<pin>, fp:<pin>:<fid>, clock) so the sync
    -- never queues a second command for the same thing while one is pending.
    CREATE TABLE reader_commands (
        id          INTEGER PRIMARY KEY,
        serial      TEXT NOT NULL,
        command     TEXT NOT NULL,
        subject     TEXT NOT NULL DEFAULT '',
        created_utc TEXT NOT NULL,
        sent_utc    TEXT,
        sent_count  INTEGER NOT NULL DEFAULT 0,
        done_utc    TEXT,
        return_code INTEGER
    );
    CREATE INDEX reader_commands_pending ON reader_commands (serial, id) WHERE done_utc IS NULL;
    -- What the gateway believes each reader holds: users it put there (managed = 1) or the reader
    -- reported (managed = 0).
    CREATE TABLE reader_users (
        serial      TEXT NOT NULL,
        pin         TEXT NOT NULL,
        name        TEXT NOT NULL,
        privilege   INTEGER NOT NULL DEFAULT 0,
        managed     INTEGER NOT NULL DEFAULT 1,
        updated_utc TEXT NOT NULL,
        PRIMARY KEY (serial, pin)
    );
    -- Fingerprint templates (biometric data, UU PDP): one per user and finger, the newest
    -- enrolment wins. Kept in the private database file only; copied to the other readers and
    -- queued upstream (kind 'fingerprint-template') so a replacement reader can be restored.
    CREATE TABLE fingerprint_templates (
        pin           TEXT NOT NULL,
        fid           INTEGER NOT NULL,
        size          INTEGER NOT NULL,
        valid         INTEGER NOT NULL,
        template      TEXT NOT NULL,
        sha256        TEXT NOT NULL,
        source_serial TEXT NOT NULL,
        record_id     TEXT NOT NULL,
        updated_utc   TEXT NOT NULL,
        PRIMARY KEY (pin, fid)
    );
    -- Which template version each reader holds (or has been sent).
    CREATE TABLE reader_templates (
        serial      TEXT NOT NULL,
        pin         TEXT NOT NULL,
        fid         INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        updated_utc TEXT NOT NULL,
        PRIMARY KEY (serial, pin, fid)
    );
    "#,
    // face verification (issue 5): enrolled face templates (embeddings only, no photos).
    r#"
    -- One row per enrolled photo: its embedding (little-endian f32, L2-normalised) and the
    -- SHA-256 of the embedding model that made it; templates of another model are never compared.
    CREATE TABLE face_templates (
        id           INTEGER PRIMARY KEY,
        nip          TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        dims         INTEGER NOT NULL,
        embedding    BLOB NOT NULL,
        quality      TEXT NOT NULL DEFAULT '{}',
        source       TEXT NOT NULL,
        created_utc  TEXT NOT NULL
    );
    CREATE INDEX face_templates_by_nip ON face_templates (nip, model_sha256);
    "#,
    // check-in history read by the writer (issue 4): "the same coordinates on another day" is
    // answered by two seeks in this index, without reading the check-ins themselves (a tablet
    // fixed at the door reports the same coordinates every time, so the old index matched all of
    // an employee's check-ins and each had to be read).
    r#"
    DROP INDEX checkins_by_coords;
    CREATE INDEX checkins_by_coords ON checkins (nip, lat, lon, local_day);
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
