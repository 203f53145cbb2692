//! `cargo xtask setup`: the engine and base image (scripts/setup), then the
//! images of the bundled targets. Idempotent: a second run takes seconds.

use crate::error::{BadInput, ExitCode};
use crate::profile::{list_names, Profile};
use crate::runner::Common;
use anyhow::{bail, Context, Result};
use std::process::Command;

pub async fn run(common: &Common) -> Result<ExitCode> {
    let root = &common.repo_root;
    let status = Command::new("bash")
        .arg(root.join("scripts/setup"))
        .status()
        .context("run scripts/setup")?;
    if !status.success() {
        return Err(BadInput(format!(
            "scripts/setup failed ({status}); see its output above"
        ))
        .into());
    }
    for name in list_names(root) {
        let profile = Profile::load(&root.join("profiles").join(format!("{name}.yaml")))?;
        let Some(build) = &profile.spec.build else {
            continue;
        };
        let dir = profile.path.parent().unwrap_or(root);
        let stage = root.join("target/runcost-images").join(&name);
        std::fs::create_dir_all(&stage)?;
        if let Some(pkg) = &build.cargo_package {
            say(&format!("building {pkg} (release)"));
            let ok = Command::new(env!("CARGO"))
                .args(["build", "--release", "--quiet", "--package", pkg])
                .current_dir(root)
                .status()
                .with_context(|| format!("cargo build {pkg}"))?
                .success();
            if !ok {
                bail!("cargo build --release --package {pkg} failed");
            }
            let bin = root.join("target/release").join(pkg);
            std::fs::copy(&bin, stage.join(pkg))
                .with_context(|| format!("stage {}", bin.display()))?;
        }
        say(&format!("building image {}", build.image));
        let out = Command::new("docker")
            .args(["build", "--quiet", "--tag", &build.image, "--file"])
            .arg(dir.join(&build.dockerfile))
            .arg(&stage)
            // The legacy builder: BuildKit needs a buildx plugin the Debian
            // engine here lacks, and it would not see local-only base images.
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .context("run docker build")?;
        if !out.status.success() {
            bail!(
                "docker build of {} failed:\n{}",
                build.image,
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
    }
    say("ready; check with `cargo xtask doctor`");
    Ok(ExitCode::Ok)
}

fn say(s: &str) {
    eprintln!("setup: {s}");
}
