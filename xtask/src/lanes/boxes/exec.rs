//! Exec latency: the round trip of a command in a running box.
//!
//! Setup: one box, started. Warm-up: `warmup` execs of `true`, unrecorded
//! (first-touch of the command's pages in the guest, the agent's buffers).
//! Measurement: `samples` sequential round trips of `true`, then
//! `large_samples` of `head -c <large_bytes> /dev/zero` (output size
//! checked). Analysis: nearest-rank percentiles with tiers.

use super::{teardown, timed_exec, trivial};
use crate::boxes::BoxBackend;
use crate::events::{Event, Events};
use crate::results::boxes::{ExecResult, Quantiles};
use anyhow::{bail, Result};

pub struct ExecOpts {
    pub samples: u32,
    pub warmup: u32,
    pub large_samples: u32,
    pub large_bytes: u64,
}

pub async fn run<B: BoxBackend>(b: &B, o: &ExecOpts, events: &dyn Events) -> Result<ExecResult> {
    let mut h = b.create("exec").await?;
    let r = async {
        b.start(&mut h).await?;
        for _ in 0..o.warmup {
            timed_exec(b, &mut h, &trivial()).await?;
        }
        events.emit(Event::Note(format!(
            "{} exec: {} × `true`",
            b.kind(),
            o.samples
        )));
        let mut trivial_s = Vec::new();
        for _ in 0..o.samples {
            trivial_s.push(timed_exec(b, &mut h, &trivial()).await?.1.as_secs_f64());
        }
        events.emit(Event::Note(format!(
            "{} exec: {} × {} bytes of output",
            b.kind(),
            o.large_samples,
            o.large_bytes
        )));
        let large_argv: Vec<String> = vec![
            "head".into(),
            "-c".into(),
            o.large_bytes.to_string(),
            "/dev/zero".into(),
        ];
        let mut large = Vec::new();
        for _ in 0..o.large_samples {
            let (out, dt) = timed_exec(b, &mut h, &large_argv).await?;
            if out.stdout.len() as u64 != o.large_bytes {
                bail!(
                    "{large_argv:?} returned {} bytes, expected {}",
                    out.stdout.len(),
                    o.large_bytes
                );
            }
            large.push(dt.as_secs_f64());
        }
        Ok(ExecResult {
            warmup: o.warmup as usize,
            trivial_q: Quantiles::of(&trivial_s),
            trivial: trivial_s,
            large_q: Quantiles::of(&large),
            large,
            large_bytes: o.large_bytes,
        })
    }
    .await;
    let down = teardown(b, h).await;
    let r = r?;
    down?;
    Ok(r)
}
