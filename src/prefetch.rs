//! A hint to the processor to start loading a value's cache line, for reads whose order no
//! hardware prefetcher foresees.

/// Starts loading `x`'s cache line (nothing where that is not known how).
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    safe_arch::prefetch_t0(x);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
