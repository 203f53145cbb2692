//! Labels on every object runcost starts. `clean` and the exit paths find
//! objects by these labels, never by name patterns.

/// Run id of the run that created the object.
pub const RUN: &str = "dev.runcost.run";
/// Cell (one compose project instance) within the run.
pub const CELL: &str = "dev.runcost.cell";

/// Compose project name of a cell. Compose lowercases and restricts names,
/// so run ids and cell ids are built from `[a-z0-9-]` only.
pub fn project_name(run_id: &str, cell: &str) -> String {
    format!("runcost-{run_id}-{cell}")
}
