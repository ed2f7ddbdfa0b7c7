//! What an opened analysis shows first (`views.json`): the text report as `--no-ui` printed it,
//! and the UI's landing screen. `kalipso open` shows them at once, while (for the UI) the
//! records are decoded and analysed again behind them; without this member, or when the
//! report asked for differs, it analyses first.
//!
//! Both are rendered by the kalipso that saved the file: another version renders anew, so an
//! opened file never shows an older kalipso's layout.

use crate::ui::overview::OverviewRow;
use serde::{Deserialize, Serialize};

/// The member's name in the archive.
pub const NAME: &str = "views.json";

/// The first views of an analysis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Views {
    /// The kalipso version that rendered them.
    pub made_by: String,
    /// The `--no-ui` report.
    pub report: SavedReport,
    /// The overview's rows.
    pub overview: Vec<OverviewRow>,
    /// Whether the UI lands on the overview (the analysis has alerts).
    pub lands_on_overview: bool,
}

/// The text report and what shaped it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedReport {
    /// `--top`: how many busiest profiles it details.
    pub top: usize,
    /// `--all`: every alert with its evidence.
    pub all: bool,
    /// The text, as printed (network strings already escaped).
    pub text: String,
}

impl Views {
    /// The saved text report, when this kalipso rendered it with these `top` and `all`.
    pub fn report(&self, top: usize, all: bool) -> Option<&str> {
        (self.current() && self.report.top == top && self.report.all == all)
            .then_some(self.report.text.as_str())
    }

    /// The saved landing screen, when this kalipso rendered it and the UI lands on it.
    pub fn landing(&self) -> Option<&[OverviewRow]> {
        (self.current() && self.lands_on_overview).then_some(self.overview.as_slice())
    }

    fn current(&self) -> bool {
        self.made_by == env!("CARGO_PKG_VERSION")
    }
}
