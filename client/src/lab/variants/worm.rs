//! stub
use super::super::scenarios::S;
pub(super) fn lab(_s: &mut S<'_, '_>) {}
