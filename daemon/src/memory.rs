//! Keeping the resident set small on a 2 GB Pi.
//!
//! The embedded broker (rumqttd) keeps one in-memory log per subscribed filter, and every tablet's
//! reply topic is a filter. Each log segment starts as a `Vec` with room for 1,024 messages
//! (about 270 KiB) even when it only ever holds a few dozen replies. glibc normally raises its
//! mmap threshold the first time such a block is freed, after which these blocks are carved
//! from the heap, reused dirty, and stay resident: with 200 tablets the gateway sat near
//! 140 MiB and kept creeping up as reply logs rolled over. Fixing the threshold keeps every
//! large block in its own mapping, so only the pages a segment really touches are resident
//! and a dropped segment goes back to the kernel at once. The threshold is 32 KiB, below
//! glibc's 128 KiB: rumqttd also gives every connection queues with room for 200 packets
//! (~78 KiB incoming, ~50 KiB outgoing) that hold a few at a time; in their own mappings only
//! their first pages are resident. Blocks that large are rare on the check-in path (about 500
//! mappings a second at 2,000 check-ins/s). Two arenas instead of eight per core bound the
//! fragmentation of the worker threads.

/// Blocks at least this large are always mapped on their own (fixed, so glibc does not raise
/// it the first time such a block is freed).
const MMAP_THRESHOLD: i32 = 32 * 1024;
/// malloc arenas (glibc's default is 8 per core).
const ARENA_MAX: i32 = 2;

/// Applies the allocator settings; call first thing, before any thread starts. Returns
/// whether the allocator took them (always `false` on a non-glibc target).
#[allow(unsafe_code)]
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's tuning parameters; it is called before any
        // other thread exists and its arguments are valid constants.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// How often free heap memory is handed back to the kernel.
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Hands free heap memory back to the kernel (`malloc_trim`): after a morning rush the buffers
/// it needed are freed but glibc keeps the pages, so without this the resident set stays at the
/// rush's high-water mark all day. Returns whether anything was released.
#[allow(unsafe_code)]
pub fn return_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases memory malloc holds free; it is thread-safe (it
        // takes each arena's lock) and 0 asks it to keep no padding.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Writes the store may have run in the last [`TRIM_EVERY`] for the gateway to count as quiet
/// (10 a second).
pub const QUIET_WRITES: u64 = 300;

/// Whether to hand memory back now: only after a quiet [`TRIM_EVERY`]. `malloc_trim` walks every
/// free block holding the allocator's locks and the pages it returns are faulted in again by the
/// next burst: under the tablet benchmark's 2,000 check-ins a second, one trim held up about two
/// seconds of replies (p99 81–116 ms instead of ~25 ms). After a rush, the first quiet interval
/// returns what the rush left.
pub fn trim_is_due(writes_since_last_tick: u64) -> bool {
    writes_since_last_tick <= QUIET_WRITES
}

/// Calls [`return_free_memory`] every [`TRIM_EVERY`] that was quiet (see [`trim_is_due`]) until
/// shutdown.
pub async fn run_trimmer(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut writes_before = crate::store::writer_totals().jobs;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let writes = crate::store::writer_totals().jobs;
        let quiet = trim_is_due(writes.saturating_sub(writes_before));
        writes_before = writes;
        if !quiet {
            continue;
        }
        let before = resident_bytes();
        let started = std::time::Instant::now();
        if return_free_memory() {
            tracing::debug!(
                before = before.unwrap_or(0),
                after = resident_bytes().unwrap_or(0),
                took_ms = started.elapsed().as_millis() as u64,
                "returned free heap memory to the kernel"
            );
        }
    }
}

/// Bytes SQLite holds on the heap now, all connections together (page caches, statements,
/// schema): bounded by the `cache_size` of each connection (`store/open.rs`).
#[allow(unsafe_code)]
pub fn sqlite_heap_bytes() -> i64 {
    // SAFETY: sqlite3_memory_used reads SQLite's global allocation counter; it takes no
    // arguments and is thread-safe in the serialized and multi-thread modes rusqlite uses.
    unsafe { rusqlite::ffi::sqlite3_memory_used() }
}

/// This process's resident set, bytes (`VmRSS` in `/proc/self/status`), if readable.
pub fn resident_bytes() -> Option<u64> {
    Some(ProcStatus::read(None)?.kib("VmRSS")? * 1024)
}

/// One reading of `/proc/<pid>/status` (memory figures of a process).
pub struct ProcStatus(String);

impl ProcStatus {
    /// Reads the status of `pid`, or of this process for `None`; `None` once the process is gone.
    pub fn read(pid: Option<u32>) -> Option<ProcStatus> {
        let path = match pid {
            Some(pid) => format!("/proc/{pid}/status"),
            None => "/proc/self/status".to_string(),
        };
        std::fs::read_to_string(path).ok().map(ProcStatus)
    }

    /// A `kB` field such as `VmRSS`, `VmHWM`, `RssAnon` or `RssFile`, in KiB.
    pub fn kib(&self, field: &str) -> Option<u64> {
        self.0.lines().find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_status_field_is_read_in_kib_by_its_exact_name() {
        let s =
            super::ProcStatus("VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 512 kB\n".into());
        assert_eq!(s.kib("VmRSS"), Some(1024));
        assert_eq!(s.kib("VmHWM"), Some(2048));
        assert_eq!(s.kib("RssAnon"), Some(512));
        assert_eq!(s.kib("Rss"), None);
        assert_eq!(s.kib("VmSwap"), None);
    }

    #[test]
    fn freed_heap_memory_goes_back_to_the_kernel() {
        // Many small blocks (below the mmap threshold, so they live in the heap), then free
        // every other one so the heap cannot simply shrink from the top.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![i as u8; 4000]).collect();
        let kept: Vec<Vec<u8>> = blocks.into_iter().step_by(20).collect();
        let before = super::resident_bytes().unwrap();
        super::return_free_memory();
        let after = super::resident_bytes().unwrap();
        assert_eq!(kept.len(), 1000);
        // ~76 MB were freed inside the heap; at least half of it must leave the resident set.
        assert!(
            before.saturating_sub(after) > 30 << 20,
            "before {before}, after {after}"
        );
    }

    #[test]
    fn memory_is_handed_back_only_after_a_quiet_interval() {
        use super::{trim_is_due, QUIET_WRITES};
        assert!(trim_is_due(0));
        assert!(trim_is_due(QUIET_WRITES));
        assert!(!trim_is_due(QUIET_WRITES + 1));
        assert!(!trim_is_due(60_000), "trimmed in the middle of a rush");
    }

    #[test]
    fn the_allocator_accepts_the_settings() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(super::tune_allocator());
    }

    #[test]
    fn sqlite_heap_use_counts_the_pages_an_in_memory_database_holds() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 64)
             INSERT INTO t SELECT zeroblob(32768) FROM n;",
        )
        .unwrap();
        // 64 × 32 KiB live in this connection's pages for as long as it is open.
        assert!(super::sqlite_heap_bytes() >= 2 << 20);
        drop(conn);
    }

    #[test]
    fn the_resident_set_is_read_from_proc_for_this_process_or_a_pid() {
        let rss = super::resident_bytes().unwrap();
        assert!(rss > 1 << 20, "{rss}");
        let by_pid = super::ProcStatus::read(Some(std::process::id())).unwrap();
        assert!(by_pid.kib("VmHWM").unwrap() >= by_pid.kib("VmRSS").unwrap());
        assert!(super::ProcStatus::read(Some(u32::MAX)).is_none());
    }
}
