//! `cargo xtask setup`: the engine and base image (scripts/setup), then the
//! images of the bundled targets, or with `--profile` those of one profile
//! (bundled or a path). Idempotent: a second run takes seconds.

use crate::error::{BadInput, ExitCode};
use crate::profile::{list_names, Profile};
use crate::runner::Common;
use anyhow::{bail, Context, Result};
use std::process::Command;

/// Everything (`only` = None), or the images of one profile (`--profile
/// NAME|PATH`, validated first: a bad profile is exit 2 before anything runs).
pub async fn run(common: &Common, only: Option<&str>) -> Result<ExitCode> {
    let root = &common.repo_root;
    let one = only.map(|arg| Profile::resolve(root, arg)).transpose()?;
    if !super::is_checkout(root) {
        // Another project's repository: no engine installer, bundled
        // targets or box guest here; build the profile's own images.
        let Some(profile) = one else {
            return Err(BadInput(format!(
                "{}: not the runcost checkout, so there are no bundled profiles to set up;                  give --profile path/to/profile.yaml",
                root.display()
            ))
            .into());
        };
        if !build_images(root, &profile)? {
            say(&format!(
                "profile {} has no `build:` and no `wrap.dockerfile`: nothing to build; its images must exist locally",
                profile.name()
            ));
        }
        say("ready; check with `runcost doctor`");
        return Ok(ExitCode::Ok);
    }
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
    // The sandbox runtimes scripts/setup installed, registered with the
    // engine (idempotent; SIGHUP reloads dockerd's runtimes, containers kept).
    say(&crate::boxes::runtimes::register_with_engine(
        std::path::Path::new("/etc/docker/daemon.json"),
        std::path::Path::new("/var/run/docker.pid"),
    )?);
    if let Some(profile) = one {
        if !build_images(root, &profile)? {
            say(&format!(
                "profile {} ({}) has no `build:` and no `wrap.dockerfile`: nothing to build; its images must exist locally",
                profile.name(),
                profile.path.display()
            ));
        }
        say("ready; check with `cargo xtask doctor`");
        return Ok(ExitCode::Ok);
    }
    let bundled = list_names(root)
        .into_iter()
        .map(|name| root.join("profiles").join(format!("{name}.yaml")));
    // Test targets have a profile beside their code, not under profiles/.
    let test_targets = TEST_TARGETS.iter().map(|p| root.join(p));
    for path in bundled.chain(test_targets) {
        let profile = Profile::load(&path)?;
        build_images(root, &profile)?;
    }
    // The group-memory reader the exec-stream sampler uploads into containers.
    say("building the group-memory reader (static)");
    crate::probe::exec::build_groupmem(root).context("build runcost-groupmem")?;
    // The box guest (agent, vmlinux, initramfs) for the qemu box lanes.
    crate::boxes::guest::build(root).context("build the box guest")?;
    say("ready; check with `cargo xtask doctor`");
    Ok(ExitCode::Ok)
}

/// Profiles of ground-truth targets the integration tests run.
const TEST_TARGETS: &[&str] = &["targets/forker/forker.yaml"];

/// The profile's `build:` image, then its tools image; false when it
/// declares neither.
fn build_images(root: &std::path::Path, profile: &Profile) -> Result<bool> {
    let dir = profile.path.parent().unwrap_or(root);
    let stage = super::image_stage(root, profile.name());
    let tools = profile
        .spec
        .wrap
        .as_ref()
        .and_then(|w| Some((w.image.as_str(), w.dockerfile.as_ref()?)));
    if profile.spec.build.is_none() && tools.is_none() {
        return Ok(false);
    }
    std::fs::create_dir_all(&stage).with_context(|| format!("create {}", stage.display()))?;
    if let Some(build) = &profile.spec.build {
        build_target(root, build, dir, &stage)?;
    }
    // The tools image (heap and memcheck lanes) usually starts FROM the
    // target's image, so it comes second.
    if let Some((image, dockerfile)) = tools {
        docker_build(image, &dir.join(dockerfile), &stage)?;
    }
    Ok(true)
}

/// The target's release binary (if it is a workspace package) and image.
fn build_target(
    root: &std::path::Path,
    build: &crate::profile::BuildSpec,
    dir: &std::path::Path,
    stage: &std::path::Path,
) -> Result<()> {
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
        std::fs::copy(&bin, stage.join(pkg)).with_context(|| format!("stage {}", bin.display()))?;
    }
    let context = build
        .context
        .as_ref()
        .map(|c| dir.join(c))
        .unwrap_or_else(|| stage.to_path_buf());
    docker_build(&build.image, &dir.join(&build.dockerfile), &context)
}

/// `docker build` with the legacy builder: BuildKit needs a buildx plugin
/// the Debian engine here lacks, and it would not see local-only base images.
fn docker_build(
    image: &str,
    dockerfile: &std::path::Path,
    context: &std::path::Path,
) -> Result<()> {
    say(&format!("building image {image}"));
    let out = Command::new("docker")
        .args(["build", "--quiet", "--tag", image, "--file"])
        .arg(dockerfile)
        .arg(context)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .context("run docker build")?;
    if !out.status.success() {
        bail!(
            "docker build of {image} failed:\n{}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}

fn say(s: &str) {
    eprintln!("setup: {s}");
}
