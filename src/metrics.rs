//! TODO
/// TODO
pub struct MetricsSnapshot;
