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

#[cfg(test)]
mod tests {
    #[test]
    fn the_allocator_accepts_the_settings() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(super::tune_allocator());
    }
}
