//! All time-window arithmetic.
//!
//! kalipso uses one global grid by default (Slips ≥ v1.0.12, spec §2.3): window `n` of width `W`
//! anchored at `T0` covers `[T0 + W·(n−1), T0 + W·n)`, so `n = floor((t − T0)/W) + 1`, and
//! records before `T0` get `n ≤ 0`. With [`Anchor::Profile`] each profile has its own grid
//! anchored at its first record, as Slips ≤ v1.0.11 (the Kalipso era) numbered windows.
//!
//! Nothing else computes window numbers.

/// Where a profile's window grid starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    /// One grid for all profiles, anchored at the first record of the input.
    #[default]
    Global,
    /// Each profile's grid starts at that profile's first record (Slips v1.0.0).
    Profile,
}

/// A window grid: width and anchor time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// Window width, seconds (> 0).
    pub width: f64,
    /// Start of window 1.
    pub anchor: f64,
}

impl Grid {
    /// The number of the window that holds time `t`.
    pub fn number(&self, t: f64) -> i64 {
        let n = ((t - self.anchor) / self.width).floor() + 1.0;
        // Saturate absurd values (a corrupt timestamp) instead of overflowing.
        n.clamp(-1e15, 1e15) as i64
    }

    /// The start time of window `n`.
    pub fn start(&self, n: i64) -> f64 {
        self.anchor + self.width * (n - 1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundaries_belong_to_the_later_window() {
        let g = Grid {
            width: 3600.0,
            anchor: 1000.0,
        };
        assert_eq!(g.number(1000.0), 1);
        assert_eq!(g.number(4599.999), 1);
        assert_eq!(g.number(4600.0), 2);
        assert_eq!(g.number(999.0), 0);
        assert_eq!(g.number(1000.0 - 3600.0), 0);
        assert_eq!(g.number(1000.0 - 3600.001), -1);
        assert!((g.start(2) - 4600.0).abs() < 1e-9);
        assert!((g.start(0) - (1000.0 - 3600.0)).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn every_time_falls_inside_its_window(t in -1e9f64..4e9, anchor in 0f64..2e9, width in 1f64..1e6) {
            let g = Grid { width, anchor };
            let n = g.number(t);
            let start = g.start(n);
            // allow for rounding of the float arithmetic at the edges
            prop_assert!(start <= t + 1e-6 * width.max(1.0), "t {t} start {start}");
            prop_assert!(t < start + width + 1e-6 * width.max(1.0));
        }
    }
}
