//! `/metrics` in the Prometheus text format.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{AdminState, ApiError};
use crate::store::Timed;

pub(super) async fn render(State(st): State<AdminState>) -> Result<impl IntoResponse, ApiError> {
    let s = st.store.stats().await?;
    let f = st.forward.lock().map(|f| f.clone()).unwrap_or_default();
    let now = jiff::Timestamp::now();
    let age = |utc: &Option<String>| {
        utc.as_deref()
            .and_then(|u| u.parse::<jiff::Timestamp>().ok())
            .map(|t| (now.as_second() - t.as_second()).max(0))
    };
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    if let Some(rss) = crate::memory::resident_bytes() {
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the gateway process.",
            rss.to_string(),
        );
    }
    metric(
        "hadir_sqlite_memory_bytes",
        "gauge",
        "Heap memory SQLite holds (page caches of all connections, statements).",
        crate::memory::sqlite_heap_bytes().to_string(),
    );
    let w = crate::store::writer_totals();
    metric(
        "hadir_store_commits_total",
        "counter",
        "Transactions the store writer committed.",
        w.commits.to_string(),
    );
    metric(
        "hadir_store_jobs_total",
        "counter",
        "Writes run in those transactions (jobs ÷ commits = the group size).",
        w.jobs.to_string(),
    );
    metric(
        "hadir_store_busy_seconds_total",
        "counter",
        "Seconds the store writer spent writing and committing.",
        format!("{:.6}", w.busy_seconds),
    );
    let c = crate::store::checkpoint_totals();
    metric(
        "hadir_store_wal_pages_written_total",
        "counter",
        "Pages the writer's commits appended to the WAL.",
        c.frames_written.to_string(),
    );
    metric(
        "hadir_store_checkpoints_total",
        "counter",
        "WAL checkpoint passes run beside the writer.",
        c.passes.to_string(),
    );
    metric(
        "hadir_store_checkpoint_seconds_total",
        "counter",
        "Seconds spent in WAL checkpoint passes.",
        format!("{:.6}", c.seconds),
    );
    let mut timed = |base: &str, [count_help, seconds_help, longest_help]: [&str; 3], t: Timed| {
        metric(
            &format!("{base}s_total"),
            "counter",
            count_help,
            t.count.to_string(),
        );
        metric(
            &format!("{base}_seconds_total"),
            "counter",
            seconds_help,
            format!("{:.6}", t.seconds),
        );
        metric(
            &format!("{base}_longest_seconds"),
            "gauge",
            longest_help,
            format!("{:.6}", t.longest_seconds),
        );
    };
    timed(
        "hadir_store_wal_restart",
        [
            "Checkpoint passes the writer ran between transactions so the WAL starts again from its beginning (it waits while they run).",
            "Seconds the writer spent in those passes.",
            "The writer's longest such pass since start.",
        ],
        c.restarts,
    );
    timed(
        "hadir_store_wal_sync",
        [
            "fdatasync calls on the WAL by the sync thread; each makes every commit before it durable, and only then are their writes answered.",
            "Seconds spent in those syncs.",
            "The longest such sync since start.",
        ],
        crate::store::sync_totals(),
    );
    metric(
        "hadir_checkins_handled_total",
        "counter",
        "Check-ins that went through the verification pipeline.",
        crate::tablets::timing::handled_total().to_string(),
    );
    metric(
        "hadir_records",
        "gauge",
        "Attendance records held locally.",
        s.records.to_string(),
    );
    metric(
        "hadir_outbox_backlog",
        "gauge",
        "Records not yet acknowledged upstream.",
        s.backlog.to_string(),
    );
    metric(
        "hadir_outbox_oldest_unsent_age_seconds",
        "gauge",
        "Age of the oldest record not yet acknowledged upstream (0 when none).",
        age(&s.oldest_unsent_utc).unwrap_or(0).to_string(),
    );
    metric(
        "hadir_forward_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last acknowledged batch (0 if never).",
        s.last_forward_utc
            .as_deref()
            .and_then(|u| u.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second())
            .to_string(),
    );
    metric(
        "hadir_forward_connected",
        "gauge",
        "1 when the provincial server is reachable.",
        u8::from(f.connected).to_string(),
    );
    metric(
        "hadir_forward_batches_acked_total",
        "counter",
        "Batches acknowledged as stored.",
        f.batches_acked.to_string(),
    );
    metric(
        "hadir_forward_batches_rejected_total",
        "counter",
        "Batches rejected by the server.",
        f.batches_rejected.to_string(),
    );
    metric(
        "hadir_forward_records_acked_total",
        "counter",
        "Records acknowledged upstream.",
        f.records_acked.to_string(),
    );
    metric(
        "hadir_forward_resends_total",
        "counter",
        "Times forwarding restarted from the oldest unacknowledged record.",
        f.resends.to_string(),
    );
    metric(
        "hadir_intake_refused",
        "gauge",
        "1 while new records are refused because storage limits are reached.",
        u8::from(s.intake_refused.is_some()).to_string(),
    );
    metric(
        "hadir_db_bytes",
        "gauge",
        "Database and WAL size.",
        s.db_bytes.to_string(),
    );
    metric(
        "hadir_disk_free_bytes",
        "gauge",
        "Free bytes on the data file system.",
        s.free_bytes.unwrap_or(0).to_string(),
    );
    metric(
        "hadir_uptime_seconds",
        "gauge",
        "Seconds since start.",
        st.started.elapsed().as_secs().to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP hadir_checkin_stage_seconds_total Seconds check-ins spent in each pipeline stage.\n# TYPE hadir_checkin_stage_seconds_total counter"
    );
    for stage in crate::tablets::timing::Stage::ALL {
        let _ = writeln!(
            out,
            "hadir_checkin_stage_seconds_total{{stage=\"{}\"}} {:.6}",
            stage.label(),
            crate::tablets::timing::seconds(stage)
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
