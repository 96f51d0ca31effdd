//! A hint to the CPU to start loading memory that will be read soon. Scans that follow
//! a pointer per entry (a checkpoint reading each value) issue the hints for a run of
//! entries first, so the loads overlap instead of waiting one cache miss at a time.

/// Asks the CPU to bring the cache lines holding `bytes` (up to its first 128 bytes)
/// into cache. Only a hint: it never faults and changes nothing.
#[inline(always)]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = bytes.as_ptr() as *const i8;
        // SAFETY: prefetching is a hint that never faults, whatever the address; the
        // pointer comes from a live slice anyway.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            if bytes.len() > 64 {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Asks the CPU to bring the cache line holding `p` into cache. Only a hint: it never
/// faults, whatever the address, and changes nothing.
#[inline(always)]
pub fn prefetch_ptr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching is a hint that never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
