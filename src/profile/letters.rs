//! Stratosphere behavioural letters, exactly as Slips v1.0.0 `compute_symbol` (spec §3).
//!
//! Each flow of a tuple (remote IP, port, protocol) within one profile and window adds a symbol:
//! optional `0`s for each whole hour of silence, a letter or digit for periodicity × size ×
//! duration, and a character for the time since the previous flow. The second flow of a tuple
//! gets a time character (v1.0.0; Slips HEAD drops it), which matches the original
//! Stratosphere IPS.
//!
//! It does not decide which flows form a tuple.

/// Timeout: one `0` per whole hour of gap.
const TTO: f64 = 3600.0;
/// Periodicity bucket edges.
const TT1: f64 = 1.05;
const TT2: f64 = 1.3;
const TT3: f64 = 5.0;
/// Duration bucket edges, seconds.
const TD1: f64 = 0.1;
const TD2: f64 = 10.0;
/// Size bucket edges, payload bytes.
const TS1: u64 = 250;
const TS2: u64 = 1100;

/// Letter map: `[periodicity][size][duration]`; periodicity row 0 is "not known yet" (digits).
const MAP: [[[u8; 3]; 3]; 5] = [
    [*b"123", *b"456", *b"789"],
    [*b"abc", *b"def", *b"ghi"],
    [*b"ABC", *b"DEF", *b"GHI"],
    [*b"rst", *b"uvw", *b"xyz"],
    [*b"RST", *b"UVW", *b"XYZ"],
];

/// The letter state of one tuple: the times of its last two flows (NaN = none yet; two plain
/// floats keep a tuple at 64 bytes, and there is one tuple per flow in scan-heavy traffic).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LetterState {
    last_last: f64,
    last: f64,
}

impl Default for LetterState {
    fn default() -> Self {
        LetterState {
            last_last: f64::NAN,
            last: f64::NAN,
        }
    }
}

/// Python truthiness of a stored timestamp: missing or exactly 0 is "false".
fn truthy(t: Option<f64>) -> Option<f64> {
    t.filter(|v| *v != 0.0)
}

impl LetterState {
    /// Time of the flow before the last one (Slips' stored `prev`).
    pub fn last_last(&self) -> Option<f64> {
        (!self.last_last.is_nan()).then_some(self.last_last)
    }

    /// Time of the last flow.
    pub fn last(&self) -> Option<f64> {
        (!self.last.is_nan()).then_some(self.last)
    }

    /// Appends the symbol of a flow at `now` to `out` (ASCII) and advances the state.
    pub fn push(&mut self, now: f64, duration: f64, size: u64, out: &mut Vec<u8>) {
        let last = truthy(self.last());
        let t2 = match (truthy(Some(now)), last) {
            (Some(n), Some(l)) => Some(n - l),
            _ => None,
        };
        let periodicity = match (truthy(self.last_last()), last) {
            (Some(ll), Some(l)) => {
                let t1 = l - ll;
                let t2p = now - l;
                if t2p >= TTO {
                    for _ in 0..(t2p / TTO) as u64 {
                        out.push(b'0');
                    }
                }
                // Python raises ZeroDivisionError for x/0.0; Slips then uses TD = 1.
                let td = if t2p >= t1 {
                    if t1 == 0.0 { 1.0 } else { t2p / t1 }
                } else if t2p == 0.0 {
                    1.0
                } else {
                    t1 / t2p
                };
                if td <= TT1 {
                    1
                } else if td <= TT2 {
                    2
                } else if td <= TT3 {
                    3
                } else {
                    4
                }
            }
            _ => 0,
        };
        let d = if duration <= TD1 {
            0
        } else if duration <= TD2 {
            1
        } else {
            2
        };
        let s = if size <= TS1 {
            0
        } else if size <= TS2 {
            1
        } else {
            2
        };
        out.push(MAP[periodicity][s][d]);
        if let Some(t2) = t2 {
            if t2 <= 5.0 {
                out.push(b'.');
            } else if t2 <= 60.0 {
                out.push(b',');
            } else if t2 <= 300.0 {
                out.push(b'+');
            } else if t2 <= TTO {
                out.push(b'*');
            }
        }
        self.last_last = self.last;
        self.last = now;
    }
}

/// The letters of a sequence of `(ts, duration, bytes)` flows of one tuple.
pub fn letters(flows: &[(f64, f64, u64)]) -> String {
    let mut state = LetterState::default();
    let mut out = Vec::new();
    for &(ts, dur, size) in flows {
        state.push(ts, dur, size, &mut out);
    }
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn every(step: f64, n: usize, dur: f64, size: u64) -> Vec<(f64, f64, u64)> {
        (0..n)
            .map(|i| (1000.0 + step * i as f64, dur, size))
            .collect()
    }

    // The six test vectors of spec §3.4.
    #[test]
    fn vector_every_10s_small_short() {
        assert_eq!(letters(&every(10.0, 6, 0.01, 60)), "11,a,a,a,a,");
    }

    #[test]
    fn vector_every_300s_big_long() {
        assert_eq!(letters(&every(300.0, 5, 15.0, 2000)), "99+i+i+i+");
    }

    #[test]
    fn vector_irregular_medium() {
        let flows: Vec<_> = [1000.0, 1003.0, 1010.0, 1011.0, 1100.0]
            .iter()
            .map(|&t| (t, 0.5, 500))
            .collect();
        assert_eq!(letters(&flows), "55.v,V.V+");
    }

    #[test]
    fn vector_simultaneous_flows_divide_by_zero() {
        let flows: Vec<_> = [1000.0, 1000.0, 1000.0, 1005.0]
            .iter()
            .map(|&t| (t, 0.0, 0))
            .collect();
        assert_eq!(letters(&flows), "11.a.a.");
    }

    #[test]
    fn vector_hours_of_silence_give_zeros() {
        let flows: Vec<_> = [1000.0, 1010.0, 8210.0]
            .iter()
            .map(|&t| (t, 1.0, 300))
            .collect();
        assert_eq!(letters(&flows), "55,00V");
    }

    #[test]
    fn vector_weakly_periodic() {
        let flows: Vec<_> = [1000.0, 1004.0, 1009.0, 1013.0]
            .iter()
            .map(|&t| (t, 0.05, 100))
            .collect();
        assert_eq!(letters(&flows), "11.A.A.");
    }

    #[test]
    fn out_of_order_flow_is_not_corrected() {
        // negative T2 gives '.', and the negative ratio falls into the strongly periodic row
        let flows = [(1000.0, 0.0, 0), (1010.0, 0.0, 0), (1005.0, 0.0, 0)];
        assert_eq!(letters(&flows), "11,a.");
    }

    proptest! {
        #[test]
        fn symbols_use_the_rnn_vocabulary(flows in proptest::collection::vec((0f64..1e6, 0f64..100.0, 0u64..5000), 0..40)) {
            let mut sorted = flows.clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let s = letters(&sorted);
            let vocab = "abcdefghiABCDEFGHIrstuvwxyzRSTUVWXYZ1234567890,.+*";
            prop_assert!(s.chars().all(|c| vocab.contains(c)), "{s}");
            // exactly one letter or digit (other than padding zeros) per flow
            let symbols = s.chars().filter(|c| c.is_ascii_alphanumeric() && *c != '0').count();
            prop_assert_eq!(symbols, sorted.len());
        }
    }
}
