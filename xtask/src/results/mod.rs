//! Results: the versioned run record (`run.json`), raw sample CSVs and the
//! run directory with atomic writes.

pub mod boxes;
pub mod fault;
pub mod fingerprint;
pub mod leaks;
pub mod rundir;
pub mod schema;

pub use rundir::RunDir;
pub use schema::*;
