//! What the work ahead is, told to whoever owns the process's allocator.
//!
//! The binary chooses and tunes the global allocator (`src/main.rs`); only the library knows,
//! once it has looked at its inputs, which kind of work is coming. The two kinds free memory
//! differently: reading records keeps nearly everything it allocates until the end, so pages a
//! stage frees are best given back at once (they would otherwise count twice in the peak);
//! assembling packets into flows frees and allocates flow state all the time, so pages given
//! back at once are faulted in again (a third more system time on a capture).

use std::sync::OnceLock;

/// The kind of work the process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Reading logs or a saved analysis, profiling, detecting: the default.
    Records,
    /// Assembling packets of a capture into flows.
    Packets,
}

static TUNER: OnceLock<fn(Workload)> = OnceLock::new();

/// Sets what is called when the work changes kind (the first setting stays).
pub fn set_tuner(tune: fn(Workload)) {
    let _ = TUNER.set(tune);
}

/// Says that the work now is `w`.
pub(crate) fn working_on(w: Workload) {
    if let Some(tune) = TUNER.get() {
        tune(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    static LAST: AtomicU8 = AtomicU8::new(0);

    fn record(w: Workload) {
        LAST.store(if w == Workload::Packets { 2 } else { 1 }, Ordering::SeqCst);
    }

    #[test]
    fn the_tuner_hears_of_each_change_of_work() {
        set_tuner(record);
        working_on(Workload::Packets);
        assert_eq!(LAST.load(Ordering::SeqCst), 2);
        working_on(Workload::Records);
        assert_eq!(LAST.load(Ordering::SeqCst), 1);
    }
}
