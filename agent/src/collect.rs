//! Evidence sources. Each source reads AWS through [`crate::aws::call`], is metered, and reports
//! itself ok, partial (with the reason) or failed; a failing source never aborts an investigation.

pub mod cloudtrail;
pub mod ecs;
pub mod logs;
pub mod metrics;
pub mod resources;
