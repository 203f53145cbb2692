//! Burst: N boxes asked for at the same moment — how long does each wait
//! for its first command, against one box alone?
//!
//! Setup: nothing. Warm-up: one box created, used and removed unrecorded
//! (the host's page cache). Measurement: `singles` boxes one after another
//! (create → start → `true` → teardown: the single-box cold start), then
//! `boxes` boxes created at one instant (their futures polled together), each
//! timed from that instant to its first successful exec; all are torn down
//! after the last is up. Analysis: percentiles with tiers; burst max and
//! mean against the single-box median (ratios). A box of the burst that
//! fails is recorded with its cause; the others count.

use super::{lifecycle, teardown, timed_exec, trivial};
use crate::boxes::runtimes::first_cause;
use crate::boxes::BoxBackend;
use crate::events::{Event, Events};
use crate::results::boxaxes::{AxisSection, BoxDeath, BurstResult};
use crate::results::boxes::Quantiles;
use anyhow::{bail, Context, Result};
use futures_util::future::join_all;
use runcost_stats::percentile_nearest_rank;
use std::time::Instant;

pub struct BurstOpts {
    pub boxes: u32,
    pub singles: u32,
}

pub async fn run<B: BoxBackend>(b: &B, o: &BurstOpts, events: &dyn Events) -> Result<BurstResult> {
    events.emit(Event::Note(format!("{} burst: warm-up box", b.kind())));
    lifecycle::one(b, "bw").await.context("burst warm-up box")?;
    let mut deaths = Vec::new();
    let mut single_s = Vec::new();
    for i in 0..o.singles {
        match lifecycle::one(b, &format!("bs{i}")).await {
            Ok(s) => single_s.push(s.first_exec_s),
            Err(e) => deaths.push(BoxDeath {
                section: AxisSection::BurstSingle,
                index: i,
                cause: first_cause(&e),
            }),
        }
    }
    events.emit(Event::Note(format!(
        "{} burst: {} boxes at once",
        b.kind(),
        o.boxes
    )));
    let t0 = Instant::now();
    let all = join_all((0..o.boxes).map(|i| async move {
        let mut h = match b.create(&format!("bb{i}")).await {
            Ok(h) => h,
            Err(e) => return (None, Err(e)),
        };
        let r = async {
            b.start(&mut h).await?;
            timed_exec(b, &mut h, &trivial()).await?;
            Ok::<_, anyhow::Error>(t0.elapsed().as_secs_f64())
        }
        .await;
        (Some(h), r)
    }))
    .await;
    let mut burst_s = Vec::new();
    let mut handles = Vec::new();
    for (i, (h, r)) in all.into_iter().enumerate() {
        handles.extend(h);
        match r {
            Ok(s) => burst_s.push(s),
            Err(e) => deaths.push(BoxDeath {
                section: AxisSection::Burst,
                index: i as u32,
                cause: first_cause(&e),
            }),
        }
    }
    let mut down = Ok(());
    for h in handles {
        if let Err(e) = teardown(b, h).await {
            down = Err(e);
        }
    }
    down.context("burst teardown")?;
    if burst_s.is_empty() {
        bail!(
            "burst: no box of {} came up: {}",
            o.boxes,
            deaths.last().map(|d| d.cause.as_str()).unwrap_or("?")
        );
    }
    let (max, mean) = summary(&burst_s);
    let single_median = percentile_nearest_rank(&single_s, 0.5).ok();
    let ratio = |v: Option<f64>| Some(v? / single_median.filter(|m| *m > 0.0)?);
    Ok(BurstResult {
        boxes: o.boxes,
        single_q: Quantiles::of(&single_s),
        single_s,
        burst_q: Quantiles::of(&burst_s),
        burst_max_s: max,
        burst_mean_s: mean,
        ratio_max: ratio(max),
        ratio_mean: ratio(mean),
        burst_s,
        deaths,
    })
}

/// Max and mean of a non-empty sample (None when empty).
fn summary(v: &[f64]) -> (Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (None, None);
    }
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (Some(max), Some(v.iter().sum::<f64>() / v.len() as f64))
}

#[cfg(test)]
mod tests {
    #[test]
    fn summary_of_empty_is_none_never_zero() {
        assert_eq!(super::summary(&[]), (None, None));
        assert_eq!(super::summary(&[1.0, 3.0]), (Some(3.0), Some(2.0)));
    }
}
