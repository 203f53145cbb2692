//! The box lanes on several runtimes at once (`--profile a,b,c`).
//!
//! Lifecycle and exec interleave the runtimes within each iteration (one
//! cold box, one round trip per runtime, the order rotated each iteration)
//! so drift and cache effects spread evenly over them. Density and churn
//! run one runtime after the other, each torn down before the next: a
//! density level is "N boxes of this runtime", and churn's host-wide
//! readings cannot tell two runtimes' growth apart. Box names carry the
//! profile name, so two runtimes' boxes never share a name, a container
//! name or a socket. A runtime that fails mid-lane is recorded failing with
//! its reason; the others go on.

use super::{churn, density, exec::ExecOpts, lifecycle, teardown, timed_exec, trivial};
use crate::boxes::any::{AnyBackend, AnyBox};
use crate::boxes::runtimes::first_cause;
use crate::boxes::BoxBackend;
use crate::events::{Event, Events};
use crate::results::boxes::{BoxEnv, ExecResult, LifecycleResult, LifecycleSample, Quantiles};
use anyhow::{bail, Result};

/// One runtime of the comparison.
pub struct Runtime {
    pub name: String,
    pub backend: AnyBackend,
    pub env: BoxEnv,
}

impl Runtime {
    pub(super) fn fail(&mut self, e: &anyhow::Error) {
        if self.env.failed.is_none() {
            self.env.failed = Some(first_cause(e));
        }
    }
    pub(super) fn ok(&self) -> bool {
        self.env.failed.is_none()
    }
}

/// The order of iteration `i`: rotated so each runtime goes first as often.
fn order(n: usize, i: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (i + k) % n)
}

pub async fn lifecycle(
    rts: &mut [Runtime],
    repeats: u32,
    events: &dyn Events,
) -> Vec<Option<LifecycleResult>> {
    let mut samples: Vec<Vec<LifecycleSample>> = rts.iter().map(|_| Vec::new()).collect();
    for rt in rts.iter_mut().filter(|r| r.ok()) {
        events.emit(Event::Note(format!("{} lifecycle: warm-up box", rt.name)));
        if let Err(e) = lifecycle::one(&rt.backend, &format!("{}-lcw", rt.name)).await {
            rt.fail(&e.context("warm-up box"));
        }
    }
    for i in 0..repeats as usize {
        for k in order(rts.len(), i) {
            let rt = &mut rts[k];
            if !rt.ok() {
                continue;
            }
            match lifecycle::one(&rt.backend, &format!("{}-lc{i}", rt.name)).await {
                Ok(s) => samples[k].push(s),
                Err(e) => rt.fail(&e.context(format!("lifecycle box {}", i + 1))),
            }
        }
        events.emit(Event::Note(format!(
            "lifecycle {}/{repeats}: one cold box per runtime",
            i + 1
        )));
    }
    samples
        .into_iter()
        .zip(rts.iter())
        .map(|(s, rt)| {
            if !rt.ok() || s.is_empty() {
                return None;
            }
            let col = |f: fn(&LifecycleSample) -> f64| s.iter().map(f).collect::<Vec<_>>();
            Some(LifecycleResult {
                cold_start: Quantiles::of(&col(|x| x.first_exec_s)),
                ready: Quantiles::of(&col(|x| x.ready_s)),
                stop: Quantiles::of(&col(|x| x.stop_s)),
                remove: Quantiles::of(&col(|x| x.remove_s)),
                samples: s,
            })
        })
        .collect()
}

pub async fn exec(
    rts: &mut [Runtime],
    o: &ExecOpts,
    events: &dyn Events,
) -> Vec<Option<ExecResult>> {
    let n = rts.len();
    let mut boxes: Vec<Option<AnyBox>> = (0..n).map(|_| None).collect();
    for (k, rt) in rts.iter_mut().enumerate() {
        if !rt.ok() {
            continue;
        }
        let r: Result<AnyBox> = async {
            let mut h = rt.backend.create(&format!("{}-exec", rt.name)).await?;
            let warm = async {
                rt.backend.start(&mut h).await?;
                for _ in 0..o.warmup {
                    timed_exec(&rt.backend, &mut h, &trivial()).await?;
                }
                Ok::<_, anyhow::Error>(())
            }
            .await;
            match warm {
                Ok(()) => Ok(h),
                Err(e) => {
                    let _ = teardown(&rt.backend, h).await;
                    Err(e)
                }
            }
        }
        .await;
        match r {
            Ok(h) => boxes[k] = Some(h),
            Err(e) => rt.fail(&e),
        }
    }
    let large_argv: Vec<String> = vec![
        "head".into(),
        "-c".into(),
        o.large_bytes.to_string(),
        "/dev/zero".into(),
    ];
    let mut trivial_s: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut large_s: Vec<Vec<f64>> = vec![Vec::new(); n];
    events.emit(Event::Note(format!(
        "exec: {} × `true` per runtime, interleaved",
        o.samples
    )));
    for (phase, count) in [(0, o.samples), (1, o.large_samples)] {
        for i in 0..count as usize {
            for k in order(n, i) {
                let (Some(h), rt) = (boxes[k].as_mut(), &mut rts[k]) else {
                    continue;
                };
                let r = if phase == 0 {
                    timed_exec(&rt.backend, h, &trivial()).await.map(|(_, d)| d)
                } else {
                    match timed_exec(&rt.backend, h, &large_argv).await {
                        Ok((out, _)) if out.stdout.len() as u64 != o.large_bytes => {
                            Err(anyhow::anyhow!(
                                "{large_argv:?} returned {} bytes, expected {}",
                                out.stdout.len(),
                                o.large_bytes
                            ))
                        }
                        r => r.map(|(_, d)| d),
                    }
                };
                match r {
                    Ok(d) if phase == 0 => trivial_s[k].push(d.as_secs_f64()),
                    Ok(d) => large_s[k].push(d.as_secs_f64()),
                    Err(e) => {
                        rt.fail(&e);
                        if let Some(h) = boxes[k].take() {
                            let _ = teardown(&rt.backend, h).await;
                        }
                    }
                }
            }
        }
    }
    for (k, h) in boxes.into_iter().enumerate() {
        if let Some(h) = h {
            if let Err(e) = teardown(&rts[k].backend, h).await {
                rts[k].fail(&e.context("teardown"));
            }
        }
    }
    (0..n)
        .map(|k| {
            rts[k].ok().then(|| ExecResult {
                warmup: o.warmup as usize,
                trivial_q: Quantiles::of(&trivial_s[k]),
                trivial: std::mem::take(&mut trivial_s[k]),
                large_q: Quantiles::of(&large_s[k]),
                large: std::mem::take(&mut large_s[k]),
                large_bytes: o.large_bytes,
            })
        })
        .collect()
}

/// Density, one runtime at a time; each runtime's boxes are stopped
/// before the next starts.
pub async fn density(
    rts: &mut [Runtime],
    o: &density::DensityOpts,
    events: &dyn Events,
) -> Vec<Option<crate::results::boxes::DensityResult>> {
    let mut out = Vec::new();
    for rt in rts.iter_mut() {
        if !rt.ok() {
            out.push(None);
            continue;
        }
        events.emit(Event::Note(format!("{} density", rt.name)));
        let named = Named(&rt.backend, &rt.name);
        let mut boxes = Vec::new();
        let r = density::run(&named, o, &mut boxes, events).await;
        let mut down = Ok(());
        for h in boxes {
            if let Err(e) = teardown(&named, h).await {
                down = Err(e);
            }
        }
        match r.and_then(|r| down.map(|_| r)) {
            Ok(r) => out.push(Some(r)),
            Err(e) => {
                rt.fail(&e);
                out.push(None)
            }
        }
    }
    out
}

/// Churn, one runtime at a time.
pub async fn churn<F: std::future::Future<Output = usize>>(
    rts: &mut [Runtime],
    cycles: u32,
    count_left: impl Fn() -> F,
    events: &dyn Events,
) -> Vec<Option<crate::results::boxes::BoxChurnResult>> {
    let mut out = Vec::new();
    for rt in rts.iter_mut() {
        if !rt.ok() {
            out.push(None);
            continue;
        }
        events.emit(Event::Note(format!("{} churn", rt.name)));
        let named = Named(&rt.backend, &rt.name);
        match churn::run(&named, cycles, count_left(), events).await {
            Ok(r) => out.push(Some(r)),
            Err(e) => {
                rt.fail(&e);
                out.push(None)
            }
        }
    }
    out
}

/// A backend whose box names carry the profile name (density and churn
/// name their boxes themselves).
pub(super) struct Named<'a>(pub(super) &'a AnyBackend, pub(super) &'a str);

impl BoxBackend for Named<'_> {
    type Handle = AnyBox;
    fn kind(&self) -> crate::boxes::BackendKind {
        self.0.kind()
    }
    async fn create(&self, name: &str) -> Result<AnyBox> {
        self.0.create(&format!("{}-{name}", self.1)).await
    }
    async fn start(&self, h: &mut AnyBox) -> Result<crate::boxes::Started> {
        self.0.start(h).await
    }
    async fn exec(
        &self,
        h: &mut AnyBox,
        argv: &[String],
        stdin: &[u8],
    ) -> Result<crate::boxes::ExecOutput> {
        self.0.exec(h, argv, stdin).await
    }
    async fn stop(&self, h: &mut AnyBox) -> Result<()> {
        self.0.stop(h).await
    }
    async fn remove(&self, h: AnyBox) -> Result<()> {
        self.0.remove(h).await
    }
    fn host_pids(&self, h: &AnyBox) -> Vec<i32> {
        self.0.host_pids(h)
    }
    async fn exec_at_once(
        &self,
        h: &mut AnyBox,
        argv: &[String],
        n: usize,
    ) -> (
        crate::results::boxaxes::ParallelMode,
        Vec<Result<(crate::boxes::ExecOutput, std::time::Duration)>>,
    ) {
        self.0.exec_at_once(h, argv, n).await
    }
    fn cannot_restart(&self) -> Option<String> {
        self.0.cannot_restart()
    }
    fn scratch(&self) -> std::result::Result<crate::boxes::Scratch, String> {
        self.0.scratch()
    }
    fn cannot_copy(&self) -> Option<String> {
        self.0.cannot_copy()
    }
    async fn copy_in(&self, h: &mut AnyBox, path: &str, data: &[u8]) -> Result<()> {
        self.0.copy_in(h, path, data).await
    }
    async fn copy_out(&self, h: &mut AnyBox, path: &str, len: usize) -> Result<Vec<u8>> {
        self.0.copy_out(h, path, len).await
    }
    fn no_network(&self) -> Option<String> {
        self.0.no_network()
    }
    async fn tcp_into(&self, h: &mut AnyBox) -> Result<crate::boxes::TcpPath> {
        self.0.tcp_into(h).await
    }
    fn memory_limit_how(&self) -> std::result::Result<String, String> {
        self.0.memory_limit_how()
    }
    fn live_pids(&self, h: &AnyBox) -> crate::boxes::LivePids {
        self.0.live_pids(h)
    }
    fn init_pid(&self, h: &AnyBox) -> Option<i32> {
        self.0.init_pid(h)
    }
    fn oom_kill_file(&self, h: &AnyBox) -> Option<std::path::PathBuf> {
        self.0.oom_kill_file(h)
    }
    async fn create_limited(&self, name: &str, mib: u32) -> Result<AnyBox> {
        self.0
            .create_limited(&format!("{}-{name}", self.1), mib)
            .await
    }
}

/// Fails the lane when no runtime could be measured at all.
pub fn any_measured(rts: &[Runtime]) -> Result<()> {
    if rts.iter().any(Runtime::ok) {
        return Ok(());
    }
    let why: Vec<String> = rts
        .iter()
        .map(|r| format!("{}: {}", r.name, r.env.failed.as_deref().unwrap_or("?")))
        .collect();
    bail!("no runtime could be measured ({})", why.join("; "))
}

/// The snapshot lane on each runtime, one after the other (a snapshot of
/// one runtime must not share the host with another's boxes). Snapshot
/// files of each runtime live in a tracked directory of the run, removed
/// afterwards (and by the run's guard or `clean` if the lane dies).
pub async fn snapshot(
    rts: &mut [Runtime],
    o: &super::snapshot::SnapshotOpts,
    root: &std::path::Path,
    run_id: &str,
    events: &dyn Events,
) -> Vec<Option<crate::results::boxes::SnapshotResult>> {
    let mut out = Vec::new();
    for r in rts.iter_mut() {
        if !r.ok() {
            out.push(None);
            continue;
        }
        let res = async {
            let dir = crate::boxes::snapshot::SnapDir::create(root, run_id, &r.name)?;
            super::snapshot::run(
                &r.backend,
                &r.name,
                r.env.runtime.as_deref(),
                o,
                &dir,
                events,
            )
            .await
        }
        .await;
        match res {
            Ok(x) => out.push(Some(x)),
            Err(e) => {
                events.emit(Event::Note(format!("{} snapshot fails: {e:#}", r.name)));
                r.fail(&e);
                out.push(None);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_runtime_goes_first_equally_often() {
        let n = 3;
        let mut first = vec![0; n];
        for i in 0..30 {
            let o: Vec<usize> = super::order(n, i).collect();
            let mut s = o.clone();
            s.sort();
            assert_eq!(s, vec![0, 1, 2], "every runtime once per iteration");
            first[o[0]] += 1;
        }
        assert_eq!(first, vec![10, 10, 10]);
    }
}
