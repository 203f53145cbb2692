//! The fault clauses of the snapshot lane with the real runsc (the
//! runsc-cli profile on an OCI bundle of the base image): a checkpoint
//! that fails mid-way (its image on a 16 KiB tmpfs that fills while runsc
//! writes) and restores from a missing, a truncated and an overwritten
//! image. Each ends with nothing of its run left: no sandbox in `runsc
//! list`, no tracked box, no process, no directory. Needs `cargo xtask
//! setup` (runsc, the base image) and root (the tmpfs mount).

use super::*;
use crate::boxes::profile::{self, BackendSpec};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn runsc(run: &str) -> CommandBackend {
    let root = repo();
    let p = profile::resolve(&root, "runsc-cli").unwrap();
    let BackendSpec::Command(c) = p.backend else {
        panic!("runsc-cli is not a command profile");
    };
    let image = c
        .bundle
        .as_ref()
        .expect("runsc-cli builds bundles")
        .image
        .clone();
    let rootfs = super::super::bundle::rootfs(&root, run, &image)
        .expect("the base image's rootfs (`cargo xtask setup` builds the image)");
    CommandBackend {
        root,
        run_id: run.to_string(),
        profile: p.name,
        spec: *c,
        rootfs: Some(rootfs),
        memory_mib: 256,
        host_network: false,
    }
}

fn sh(line: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), line.into()]
}

/// The sandboxes runsc knows under the run's state root.
fn runsc_list(b: &CommandBackend) -> String {
    let state = b.profile_dir().join("state");
    let out = std::process::Command::new("runsc")
        .arg("--root")
        .arg(&state)
        .arg("list")
        .output()
        .expect("runsc list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing of the run is left: no sandbox runsc knows, no tracked box,
/// no process naming the run; then the run's state directory is reaped
/// and must be gone.
fn nothing_left(b: &CommandBackend) {
    let list = runsc_list(b);
    assert!(!list.contains(&b.run_id), "sandboxes left: {list}");
    assert_eq!(live(&b.root, &b.run_id), 0, "tracked boxes left");
    let me = std::process::id().to_string();
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != me.as_str())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .filter(|c| c.contains(&b.run_id))
        .collect();
    assert!(procs.is_empty(), "processes left: {procs:?}");
    let out = reap(&b.root, Some(&b.run_id));
    assert_eq!(out.removed, 0, "the reap found a live box");
    assert!(!cli_dir(&b.root).join(&b.run_id).exists());
}

/// A tmpfs of `size` mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "runcost-test"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(st.success(), "mount a tmpfs (the test needs root)");
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// runsc writes part of the image, then the disk is full: the error is
/// runsc's, it says what became of the source box (runsc stops the
/// sandbox either way: "died"; if a later runsc keeps it, it must still
/// hold its state), and the partial image is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_failing_midway_removes_the_partial_image_and_says_what_became_of_the_source()
{
    let b = runsc(&format!("unit-cpfail-{}", std::process::id()));
    let mut h = b.create("src").await.unwrap();
    b.start(&mut h).await.unwrap();
    let o = b
        .exec(&mut h, &sh("echo before > /dev/shm/state"), &[])
        .await
        .unwrap();
    assert_eq!(o.exit_code, 0);
    let disk = Tmpfs::mount("16k");
    let image = disk.dir.path().join("img");
    std::fs::create_dir(&image).unwrap();
    let e = format!("{:#}", b.checkpoint(&mut h, &image).await.unwrap_err());
    eprintln!("{e}");
    assert!(
        e.contains("checkpoint failed") && e.contains("no space left on device"),
        "not runsc's reason: {e}"
    );
    assert!(e.contains("partial image file(s) removed"), "{e}");
    assert_eq!(
        std::fs::read_dir(&image).unwrap().count(),
        0,
        "the partial image was left"
    );
    if e.contains("the source box still runs") {
        let o = b
            .exec(&mut h, &sh("cat /dev/shm/state"), &[])
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "before");
    } else {
        assert!(e.contains("the source box died with it"), "{e}");
        let o = b.exec(&mut h, &sh("true"), &[]).await.unwrap();
        assert_ne!(o.exit_code, 0, "said dead, but it answers: {e}");
    }
    b.remove(h).await.unwrap();
    drop(disk);
    nothing_left(&b);
}

/// Restores from an image directory without a checkpoint file, from a
/// truncated file and from one overwritten with noise: each a clear error
/// with runsc's cause (its message line, not the Go stack trace after it),
/// and no sandbox, box or bundle outlives the attempt; a restore of the
/// same box (`restore`) and of a new one (`restore_clone`) alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_from_a_missing_or_corrupt_image_is_a_clear_error_and_leaves_nothing() {
    let b = runsc(&format!("unit-rsfail-{}", std::process::id()));
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::create_dir(&good).unwrap();
    let mut h = b.create("src").await.unwrap();
    b.start(&mut h).await.unwrap();
    b.checkpoint(&mut h, &good).await.unwrap();
    let whole = std::fs::read(good.join("checkpoint.img")).unwrap();
    assert!(whole.len() > 4096, "a checkpoint of {} bytes", whole.len());

    let missing = dir.path().join("missing");
    std::fs::create_dir(&missing).unwrap();
    // The checkpointed box itself, restored from nothing.
    let e = format!("{:#}", b.restore(&mut h, &missing).await.unwrap_err());
    eprintln!("{e}");
    assert!(
        e.contains("restore failed")
            && e.contains("checkpoint.img")
            && e.contains("no such file or directory"),
        "{e}"
    );
    drop(h);
    assert_eq!(live(&b.root, &b.run_id), 0, "the box outlived its guard");
    let e = format!(
        "{:#}",
        b.restore_clone("missing", &missing).await.err().unwrap()
    );
    assert!(e.contains("no such file or directory"), "{e}");
    assert!(!runsc_list(&b).contains(&b.run_id));

    let trunc = dir.path().join("trunc");
    std::fs::create_dir(&trunc).unwrap();
    std::fs::write(trunc.join("checkpoint.img"), &whole[..whole.len() / 3]).unwrap();
    let e = format!(
        "{:#}",
        b.restore_clone("trunc", &trunc).await.err().unwrap()
    );
    eprintln!("{e}");
    assert!(e.contains("restoring container"), "not runsc's cause: {e}");
    assert!(
        !e.contains("gvisor.dev/"),
        "a stack frame, not the cause: {e}"
    );
    assert_eq!(live(&b.root, &b.run_id), 0);
    assert!(!runsc_list(&b).contains(&b.run_id));

    let noise = dir.path().join("noise");
    std::fs::create_dir(&noise).unwrap();
    let junk: Vec<u8> = (0..whole.len()).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(noise.join("checkpoint.img"), junk).unwrap();
    let e = format!(
        "{:#}",
        b.restore_clone("noise", &noise).await.err().unwrap()
    );
    eprintln!("{e}");
    assert!(
        e.contains("restoring container") && e.contains("bad magic header"),
        "{e}"
    );
    nothing_left(&b);
}
