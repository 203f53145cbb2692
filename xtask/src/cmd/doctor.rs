//! `cargo xtask doctor`: preflight, one line per check. Exit 2 when a
//! required check fails.

use crate::engine::{ComposeCli, Engine};
use crate::error::ExitCode;
use crate::runner::Common;
use anyhow::Result;

enum Level {
    Ok,
    Warn,
    Fail,
}

pub async fn run(common: &Common) -> Result<ExitCode> {
    let mut failed = false;
    let mut line = |level: Level, what: &str, detail: String| {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => {
                failed = true;
                "FAIL"
            }
        };
        println!("{tag} {what:<18} {detail}");
    };

    match Engine::connect().await {
        Ok(e) => {
            line(
                Level::Ok,
                "engine",
                format!(
                    "{} {} at {} (API {} negotiated), cgroup v{} ({}), storage {}",
                    e.info.kind,
                    e.info.server_version,
                    crate::engine::endpoint::reach().url,
                    e.info.api_version,
                    e.info.cgroup_version,
                    e.info.cgroup_driver,
                    e.info.storage_driver
                ),
            );
            for image in ["runcost/base:bookworm"] {
                match e.image_id(image).await {
                    Some(_) => line(Level::Ok, "base image", image.into()),
                    None => line(
                        Level::Fail,
                        "base image",
                        format!("{image} missing: run `cargo xtask setup`"),
                    ),
                }
            }
            for (what, detail, ok) in tools_images(&e, common).await {
                line(if ok { Level::Ok } else { Level::Warn }, &what, detail);
            }
            match e.count_labelled(None).await {
                Ok((0, 0, 0)) => line(Level::Ok, "leftovers", "none".into()),
                Ok((c, n, v)) => line(
                    Level::Warn,
                    "leftovers",
                    format!("{c} container(s), {n} network(s), {v} volume(s) labelled by runcost: `cargo xtask clean`"),
                ),
                Err(err) => line(Level::Warn, "leftovers", format!("{err:#}")),
            }
        }
        Err(e) => line(Level::Fail, "engine", format!("{e:#}")),
    }
    match ComposeCli::detect() {
        Ok(c) => line(
            Level::Ok,
            "compose",
            format!("{:?} {}", c.variant, c.version),
        ),
        Err(e) => line(Level::Fail, "compose", format!("{e:#}")),
    }
    let root = nix::unistd::geteuid().is_root();
    line(
        if root { Level::Ok } else { Level::Warn },
        "host sampler",
        if root {
            "root: host /proc readable".into()
        } else {
            "not root: use --sampler exec or grant CAP_SYS_PTRACE".into()
        },
    );
    match std::fs::metadata("/dev/kvm") {
        Ok(_) => line(
            Level::Ok,
            "/dev/kvm",
            "present (box lanes probe whether it boots a guest)".into(),
        ),
        Err(_) => line(Level::Warn, "/dev/kvm", "absent: VM boxes use TCG".into()),
    }
    for (ok, what, detail) in crate::boxes::doctor(&common.repo_root).await {
        line(if ok { Level::Ok } else { Level::Warn }, &what, detail);
    }
    // Every sandbox runtime (box profile) with a one-box probe: works, or
    // fails with the runtime's own reason, or is missing.
    let engine = crate::engine::Engine::connect().await.ok();
    for (ok, what, detail) in
        crate::boxes::runtimes::doctor(&common.repo_root, engine.as_ref()).await
    {
        line(if ok { Level::Ok } else { Level::Warn }, &what, detail);
    }
    for tool in ["heaptrack", "valgrind", "qemu-system-x86_64"] {
        let found = which(tool);
        line(
            if found.is_some() {
                Level::Ok
            } else {
                Level::Warn
            },
            tool,
            found.unwrap_or_else(|| {
                "not on the host (lanes that need it install it in images or skip)".into()
            }),
        );
    }
    match nix::sys::statvfs::statvfs(&common.repo_root) {
        Ok(s) => {
            let free = s.blocks_available() as f64 * s.fragment_size() as f64 / 1e9;
            line(
                if free > 5.0 { Level::Ok } else { Level::Warn },
                "disk",
                format!("{free:.1} GB free"),
            );
        }
        Err(e) => line(Level::Warn, "disk", e.to_string()),
    }
    match crate::probe::hostload::read() {
        Ok(l) => {
            let cores = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            let busy = l.load1 > cores as f64;
            line(
                if busy { Level::Warn } else { Level::Ok },
                "host load",
                format!(
                    "load1 {:.2} on {cores} core(s){}{}",
                    l.load1,
                    l.cpu_psi
                        .map(|p| format!(", cpu PSI some avg10 {p:.1}%"))
                        .unwrap_or_default(),
                    if busy {
                        ": overloaded, results will be noisy"
                    } else {
                        ""
                    }
                ),
            );
        }
        Err(e) => line(Level::Warn, "host load", format!("{e:#}")),
    }
    Ok(if failed {
        ExitCode::Refused
    } else {
        ExitCode::Ok
    })
}

/// Each profile's tools image (heap and memcheck lanes): present, and the
/// versions of the tools inside, read by running them in a helper container.
async fn tools_images(e: &Engine, common: &Common) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for name in crate::profile::list_names(&common.repo_root) {
        let path = common
            .repo_root
            .join("profiles")
            .join(format!("{name}.yaml"));
        let Ok(p) = crate::profile::Profile::load(&path) else {
            continue;
        };
        let Some(w) = &p.spec.wrap else { continue };
        let what = format!("tools {name}");
        if e.image_id(&w.image).await.is_none() {
            out.push((
                what,
                format!(
                    "{} missing: run `cargo xtask setup` (heap and memcheck lanes)",
                    w.image
                ),
                false,
            ));
            continue;
        }
        let mut versions = Vec::new();
        let mut ok = true;
        for argv in [["valgrind", "--version"], ["heaptrack_print", "--version"]] {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            let r = e
                .run_helper(&crate::engine::Helper {
                    run_id: "doctor",
                    cell: "tools",
                    image: &w.image,
                    argv: &argv,
                    binds: &[],
                    timeout: std::time::Duration::from_secs(30),
                    network: None,
                    cpuset: None,
                })
                .await;
            match r {
                Ok(o) if o.exit_code == 0 => {
                    let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    versions.push(text.lines().next().unwrap_or("").to_string());
                }
                _ => {
                    ok = false;
                    versions.push(format!("{} missing", argv[0]));
                }
            }
        }
        out.push((what, format!("{}: {}", w.image, versions.join(", ")), ok));
    }
    out
}

fn which(tool: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}
