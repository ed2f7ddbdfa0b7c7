//! A profile's windows, sorted by number, in one vector.
//!
//! Most profiles have one or a few windows (a scan or a spoofed flood makes a million profiles
//! of one flow each). A `BTreeMap` allocates a node for eleven entries even for one, about 2 KB
//! per profile here; a sorted vector costs one window. Records arrive nearly in time order, so
//! the window wanted is almost always the last one and inserting in the middle is rare.

use super::Window;

/// Windows by number, ascending, each number once.
#[derive(Debug, Clone, Default)]
pub struct Windows(Vec<Window>);

impl Windows {
    /// The window numbered `n`, made by `make` (which must give it number `n`) if absent.
    pub fn get_or_insert_with(&mut self, n: i64, make: impl FnOnce() -> Window) -> &mut Window {
        let at = match self.0.last() {
            Some(last) if last.number == n => self.0.len() - 1,
            Some(last) if last.number < n => {
                self.0.push(make());
                self.0.len() - 1
            }
            None => {
                self.0.push(make());
                0
            }
            Some(_) => match self.0.binary_search_by_key(&n, |w| w.number) {
                Ok(at) => at,
                Err(at) => {
                    self.0.insert(at, make());
                    at
                }
            },
        };
        &mut self.0[at]
    }

    /// Gives back the spare capacity once the profile is complete.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }

    /// The window numbered `n`.
    pub fn get(&self, n: &i64) -> Option<&Window> {
        let at = self.0.binary_search_by_key(n, |w| w.number).ok()?;
        self.0.get(at)
    }

    /// The window numbered `n`, to change it.
    pub fn get_mut(&mut self, n: &i64) -> Option<&mut Window> {
        let at = self.0.binary_search_by_key(n, |w| w.number).ok()?;
        self.0.get_mut(at)
    }

    /// Window numbers, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &i64> + ExactSizeIterator {
        self.0.iter().map(|w| &w.number)
    }

    /// Windows, ascending by number.
    pub fn values(&self) -> std::slice::Iter<'_, Window> {
        self.0.iter()
    }

    /// Windows, ascending by number, to change them.
    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, Window> {
        self.0.iter_mut()
    }

    /// (number, window) pairs, ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&i64, &Window)> + ExactSizeIterator {
        self.0.iter().map(|w| (&w.number, w))
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no windows.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(n: i64) -> Window {
        Window {
            number: n,
            ..Window::default()
        }
    }

    #[test]
    fn windows_stay_sorted_whatever_the_arrival_order() {
        let mut ws = Windows::default();
        for n in [3, 3, 1, 7, 5, 1, 7, -2] {
            ws.get_or_insert_with(n, || window(n)).other += 1;
        }
        assert_eq!(ws.keys().copied().collect::<Vec<_>>(), vec![-2, 1, 3, 5, 7]);
        assert_eq!(ws.get(&1).map(|w| w.other), Some(2));
        assert_eq!(ws.get(&7).map(|w| w.other), Some(2));
        assert!(ws.get(&4).is_none());
        assert_eq!(ws.len(), 5);
    }
}
