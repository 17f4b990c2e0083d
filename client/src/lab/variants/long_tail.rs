//! stub
use super::super::baseline::DayGen;
use super::super::labels::Draft;
use super::super::topology::Topology;
pub(super) fn sites(_topo: &mut Topology) {}
pub(super) fn day(_g: &mut DayGen<'_>, _host: usize, _drafts: &mut Vec<Draft>) {}
