//! `cargo xtask footprint`.

use crate::cli::FootprintArgs;
use crate::error::ExitCode;
use crate::events::Reporter;
use crate::lanes::footprint::FootprintOpts;
use crate::results::LaneKind;
use crate::runner::{self, Common, Job, Planned};
use anyhow::Result;

pub async fn run(common: &Common, args: FootprintArgs) -> Result<ExitCode> {
    let (settings, opts, job) = plan(&args)?.into_parts();
    let reporter = Reporter::new(common.quiet);
    let outcome = runner::run(common, settings, opts, job, &reporter).await?;
    drop(reporter);
    super::print_outcome(common, &outcome)?;
    Ok(ExitCode::Ok)
}

/// The lane's typed options from its flags (also for `suite`).
pub fn plan(args: &FootprintArgs) -> Result<Planned> {
    let m = &args.measure;
    let (settings, opts) = super::measure_settings(LaneKind::Footprint, m)?;
    let job = Job::Footprint(FootprintOpts {
        repeats: m.repeats,
        env: m.env.iter().cloned().collect(),
    });
    Ok(Planned {
        settings,
        opts,
        job,
    })
}
