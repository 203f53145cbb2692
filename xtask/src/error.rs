//! Errors a caller branches on. Everything else is `anyhow` with context.

/// Input the user can fix (a profile, a flag, a missing prerequisite). The
/// message names the file or flag, the cause and the fix. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The run was interrupted by a signal; the run directory is kept as `partial`.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {0}; cleaned up, run kept as partial")]
pub struct Interrupted(pub &'static str);

/// Shorthand for returning a [`BadInput`].
macro_rules! bad_input {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::error::BadInput(format!($($arg)*))))
    };
}
pub(crate) use bad_input;

/// Process exit codes, documented in the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    /// A gate failed: regression, leak.
    Gate = 1,
    /// Refused: bad input, missing prerequisite, or the measurement could not be made.
    Refused = 2,
    /// Interrupted by SIGINT (128 + 2).
    Sigint = 130,
    /// Interrupted by SIGTERM (128 + 15).
    Sigterm = 143,
}

impl ExitCode {
    pub fn for_error(e: &anyhow::Error) -> ExitCode {
        match e.downcast_ref::<Interrupted>() {
            Some(Interrupted("SIGINT")) => ExitCode::Sigint,
            Some(_) => ExitCode::Sigterm,
            None => ExitCode::Refused,
        }
    }
}
