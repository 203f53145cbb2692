//! Recovery after a fault burst, as pure functions over a sampled series:
//! the pre-fault baseline, the peak, when the metric came back into a band
//! around the baseline and stayed there, and what it kept.

pub use crate::results::fault::Recovery;

/// `t` in seconds (increasing), `y` the metric. The baseline is the mean of
/// samples with `t < burst_start`; the band is ±`band_frac` of it, widened
/// to at least `floor` (a flat, tiny baseline would otherwise make any
/// wobble "not recovered"). Recovery is the first time after `burst_end`
/// from which every later sample lies in the band. Returns None without
/// baseline samples or without samples after the burst.
pub fn recovery(
    t: &[f64],
    y: &[f64],
    burst_start: f64,
    burst_end: f64,
    band_frac: f64,
    floor: f64,
    tail_s: f64,
) -> Option<Recovery> {
    if t.len() != y.len() || t.is_empty() {
        return None;
    }
    let before: Vec<f64> = t
        .iter()
        .zip(y)
        .filter(|(t, _)| **t < burst_start)
        .map(|(_, y)| *y)
        .collect();
    if before.is_empty() || !before.iter().all(|v| v.is_finite()) {
        return None;
    }
    let baseline = before.iter().sum::<f64>() / before.len() as f64;
    let band = (baseline.abs() * band_frac).max(floor);
    let after: Vec<(f64, f64)> = t
        .iter()
        .zip(y)
        .filter(|(t, _)| **t >= burst_start)
        .map(|(t, y)| (*t, *y))
        .collect();
    let (peak_t, peak) =
        after.iter().cloned().fold(
            (f64::NAN, f64::MIN),
            |acc, (t, y)| if y > acc.1 { (t, y) } else { acc },
        );
    if after.is_empty() {
        return None;
    }
    let inside = |v: f64| (v - baseline).abs() <= band;
    let left_band = after.iter().any(|(_, v)| !inside(*v));
    // Walk back from the end: the last sample outside the band marks where
    // the final stay inside began.
    let last_outside = after.iter().rposition(|(_, v)| !inside(*v));
    let recovered_after_s = match last_outside {
        None => Some(0.0),
        Some(i) if i + 1 < after.len() => Some((after[i + 1].0 - burst_end).max(0.0)),
        Some(_) => None,
    };
    let end = after.last().map(|p| p.0).unwrap_or(burst_end);
    let tail: Vec<f64> = after
        .iter()
        .filter(|(t, _)| *t >= end - tail_s)
        .map(|p| p.1)
        .collect();
    let retained = tail.iter().sum::<f64>() / tail.len().max(1) as f64 - baseline;
    Some(Recovery {
        baseline,
        peak_delta: peak - baseline,
        peak_after_s: peak_t - burst_start,
        recovered_after_s,
        left_band,
        retained,
        band,
    })
}

/// The longest gap between consecutive successful answers, and where it
/// started (seconds), from `(sent_at, ok)` records in send order. Failures
/// after the last success are a gap too, open to the last record: a target
/// that never answers again must not look better than one that came back.
pub fn longest_gap(answers: &[(f64, bool)]) -> Option<(f64, f64)> {
    let mut ok: Vec<f64> = answers.iter().filter(|a| a.1).map(|a| a.0).collect();
    if let (Some(&last_ok), Some(last)) = (ok.last(), answers.last()) {
        if !last.1 && last.0 > last_ok {
            ok.push(last.0);
        }
    }
    ok.windows(2)
        .map(|w| (w[1] - w[0], w[0]))
        .fold(None, |best, g| match best {
            Some(b) if b.0 >= g.0 => Some(b),
            _ => Some(g),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..400).map(|i| i as f64 * 0.05).collect();
        let y = t.iter().map(|&t| f(t)).collect();
        (t, y)
    }

    #[test]
    fn a_spike_that_decays_recovers() {
        // 100 before t=5; a spike to 150 decaying with τ = 1 s after t=5.5.
        let (t, y) = series(|t| {
            if t < 5.0 {
                100.0
            } else if t < 5.5 {
                150.0
            } else {
                100.0 + 50.0 * (-(t - 5.5)).exp()
            }
        });
        let r = recovery(&t, &y, 5.0, 5.5, 0.05, 0.0, 2.0).unwrap();
        assert_eq!(r.baseline, 100.0);
        assert_eq!(r.peak_delta, 50.0);
        assert!(r.left_band);
        // 50·e^(−x) ≤ 5 from x = ln 10 ≈ 2.30 s, sampled every 50 ms.
        let rec = r.recovered_after_s.unwrap();
        assert!((rec - 10f64.ln()).abs() < 0.06, "{rec}");
        assert!(r.retained.abs() < 1.0);
    }

    #[test]
    fn memory_kept_is_not_recovered() {
        let (t, y) = series(|t| if t < 5.0 { 100.0 } else { 120.0 });
        let r = recovery(&t, &y, 5.0, 5.5, 0.05, 0.0, 2.0).unwrap();
        assert_eq!(r.recovered_after_s, None);
        assert!((r.retained - 20.0).abs() < 1e-9);
    }

    #[test]
    fn a_burst_that_never_leaves_the_band_recovers_at_once() {
        let (t, y) = series(|t| if t < 5.0 { 100.0 } else { 102.0 });
        let r = recovery(&t, &y, 5.0, 5.5, 0.05, 0.0, 2.0).unwrap();
        assert!(!r.left_band);
        assert_eq!(r.recovered_after_s, Some(0.0));
    }

    #[test]
    fn floor_widens_a_tiny_band_and_edges_are_refused() {
        let (t, y) = series(|t| if t < 5.0 { 0.001 } else { 0.01 });
        let r = recovery(&t, &y, 5.0, 5.5, 0.05, 0.05, 2.0).unwrap();
        assert_eq!(r.recovered_after_s, Some(0.0), "within the absolute floor");
        assert!(
            recovery(&t, &y, -1.0, 0.0, 0.05, 0.0, 2.0).is_none(),
            "no baseline"
        );
        assert!(recovery(&[], &[], 1.0, 2.0, 0.05, 0.0, 2.0).is_none());
        assert!(recovery(&t, &y[..10], 1.0, 2.0, 0.05, 0.0, 2.0).is_none());
    }

    #[test]
    fn longest_gap_between_successes() {
        let a = [
            (0.0, true),
            (0.1, true),
            (0.2, false),
            (0.3, false),
            (1.3, true),
            (1.4, true),
        ];
        let (gap, at) = longest_gap(&a).unwrap();
        assert!((gap - 1.2).abs() < 1e-9 && at == 0.1);
        assert_eq!(longest_gap(&[(0.0, true)]), None);
        // Never answered again: the gap runs to the last request.
        let dead = [(0.0, true), (0.1, true), (0.2, false), (3.0, false)];
        let (gap, at) = longest_gap(&dead).unwrap();
        assert!((gap - 2.9).abs() < 1e-9 && at == 0.1, "{gap} {at}");
    }
}
