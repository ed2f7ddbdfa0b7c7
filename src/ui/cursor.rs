//! The one rule for a selection in a list of `len` rows: moves are clamped to the rows, and
//! Home/End go to the first and last. The tree, the evidence box, the timeline and the overview
//! all move their selection with it, and the panes keep it in view with [`follow`].

/// The selection `at` moved by `delta` rows, clamped to a list of `len` rows.
pub fn step(at: usize, delta: isize, len: usize) -> usize {
    at.saturating_add_signed(delta).min(len.saturating_sub(1))
}

/// The first row to show of a page of `page` rows so that row `at` is on it: the scroll
/// `first` moves only as far as it must.
pub fn follow(first: usize, at: usize, page: usize) -> usize {
    if at < first {
        at
    } else if page > 0 && at >= first + page {
        at + 1 - page
    } else {
        first
    }
}

/// The first row, or the last one when `end`.
pub fn jump(end: bool, len: usize) -> usize {
    if end { len.saturating_sub(1) } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_stay_inside_the_list() {
        assert_eq!(step(0, -1, 5), 0);
        assert_eq!(step(3, 4, 5), 4);
        assert_eq!(step(2, 1, 0), 0, "an empty list keeps row 0");
        assert_eq!(jump(true, 5), 4);
        assert_eq!(jump(false, 5), 0);
        assert_eq!(jump(true, 0), 0);
        assert_eq!(follow(10, 4, 5), 4, "up past the page's top");
        assert_eq!(
            follow(0, 7, 5),
            3,
            "down past its bottom: the row is the last shown"
        );
        assert_eq!(follow(2, 4, 5), 2, "inside the page nothing moves");
    }
}
