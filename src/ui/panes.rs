//! One file per pane or view; each draws from `&App` into its area and reports scroll
//! positions through the frame's [`super::draw::Viewport`].
//!
//! No pane changes the state.

pub(crate) mod evidence;
pub(crate) mod help;
pub(crate) mod hotkey_bar;
pub(crate) mod info;
pub(crate) mod lists;
pub(crate) mod map;
pub(crate) mod overview;
pub(crate) mod timeline;
pub(crate) mod tree;
pub(crate) mod tuples;
