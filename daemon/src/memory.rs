//! Keeping the resident set small on a 2 GB Pi.
//!
//! The embedded broker (rumqttd) keeps one in-memory log per subscribed filter, and every tablet's
//! reply topic is a filter. Each log segment starts as a `Vec` with room for 1,024 messages
//! (about 270 KiB) even when it only ever holds a few dozen replies. glibc normally raises its
//! mmap threshold the first time such a block is freed, after which these blocks are carved
//! from the heap, reused dirty, and stay resident: with 200 tablets the gateway sat near
//! 140 MiB and kept creeping up as reply logs rolled over. Fixing the threshold keeps every
//! block of 128 KiB or more in its own mapping, so only the pages a segment really touches
//! are resident and a dropped segment goes back to the kernel at once. Two arenas instead of
//! eight per core bound the fragmentation of the worker threads.

/// Blocks at least this large are always mapped on their own (glibc's initial default, made
/// fixed).
const MMAP_THRESHOLD: i32 = 128 * 1024;
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
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
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
    fn the_resident_set_is_read_from_proc() {
        let rss = super::resident_bytes().unwrap();
        assert!(rss > 1 << 20, "{rss}");
    }
}
