//! stub
use super::super::baseline::DayGen;
use super::super::scenarios::S;
use super::super::topology::Topology;
pub(super) fn sites(_topo: &mut Topology) {}
pub(super) fn day(_g: &mut DayGen<'_>, _host: usize) {}
pub(super) fn lab(_s: &mut S<'_, '_>) {}
