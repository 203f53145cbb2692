//! Axis scales, ranges, tick positions and tick labels.
//!
//! Everything is drawn on plain linear plotters coordinates in *axis space*:
//! a log axis stores `log10(v)`, a percentile axis stores `-log10(1 - p/100)`.
//! This keeps one coordinate type for every chart and lets us choose our own
//! tick positions and labels (plotters' `WithKeyPoints`).

/// How values are mapped onto an axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scale {
    /// Linear axis.
    #[default]
    Linear,
    /// Base-10 logarithmic axis. Values `<= 0` cannot be shown: they are
    /// left out of the chart and a note saying how many were dropped is
    /// printed under it.
    Log10,
    /// Percentile axis for latency-by-percentile curves. Values are
    /// percentiles **in percent**, `0 <= p < 100` (e.g. `99.9`); the axis is
    /// logarithmic in `1 / (1 - p/100)` so that the tail is spread out, and
    /// ticks are labelled `50%`, `90%`, `99%`, `99.9%`, ... Values outside
    /// `[0, 100)` are left out with a note.
    Percentile,
}

impl Scale {
    /// Map a data value into axis space, `None` when it can't be shown.
    pub(crate) fn forward(self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        match self {
            Scale::Linear => Some(v),
            Scale::Log10 => (v > 0.0).then(|| v.log10()),
            Scale::Percentile => (0.0..100.0)
                .contains(&v)
                .then(|| -(1.0 - v / 100.0).log10()),
        }
    }

    /// Human words for what [`Scale::forward`] rejects, for the notes.
    pub(crate) fn rejects(self) -> &'static str {
        match self {
            Scale::Linear => "non-finite",
            Scale::Log10 => "<= 0 on a log axis",
            Scale::Percentile => "outside [0, 100) on a percentile axis",
        }
    }

    fn inverse(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log10 => 10f64.powf(t),
            Scale::Percentile => 100.0 * (1.0 - 10f64.powf(-t)),
        }
    }
}

/// A fully planned axis: range and ticks in axis space.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub scale: Scale,
    pub lo: f64,
    pub hi: f64,
    pub major: Vec<f64>,
    pub minor: Vec<f64>,
    labels: Vec<(f64, String)>,
}

/// Options for [`Axis::plan`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct AxisOpts {
    pub scale: Scale,
    /// Fraction of the span added on each side.
    pub pad: f64,
    /// Force the (data-space) value 0 into a linear range.
    pub include_zero: bool,
    /// Roughly how many labelled ticks fit.
    pub max_ticks: usize,
}

impl Axis {
    /// Plan an axis from values already mapped into axis space (non-finite
    /// values are ignored).
    pub fn plan(values: impl IntoIterator<Item = f64>, opts: AxisOpts) -> Axis {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for v in values {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let linear = opts.scale == Scale::Linear;
        if lo > hi {
            (lo, hi) = match opts.scale {
                Scale::Linear => (0.0, 1.0),
                Scale::Log10 => (0.0, 1.0),
                Scale::Percentile => (0.0, 2.0),
            };
        } else {
            // Keep the padded span finite even for absurd magnitudes.
            (lo, hi) = (lo.clamp(-1e300, 1e300), hi.clamp(-1e300, 1e300));
            if linear && opts.include_zero {
                lo = lo.min(0.0);
                hi = hi.max(0.0);
            }
            let (data_lo, data_hi) = (lo, hi);
            let span = hi - lo;
            let mag = lo.abs().max(hi.abs());
            if span <= mag * 1e-9 || span == 0.0 {
                let mid = (lo + hi) / 2.0;
                let d = match opts.scale {
                    Scale::Linear if mid == 0.0 => 1.0,
                    Scale::Linear => mid.abs() * 0.1,
                    Scale::Log10 => 0.5,
                    Scale::Percentile => 0.3,
                };
                lo = mid - d;
                hi = mid + d;
                if linear && mid == 0.0 {
                    // all zero: most likely a non-negative quantity
                    (lo, hi) = (0.0, 1.0);
                }
            } else {
                lo -= span * opts.pad;
                hi += span * opts.pad;
                // Don't let padding push a non-negative quantity below zero
                // (or a non-positive one above it).
                if linear && data_lo >= 0.0 && lo < 0.0 {
                    lo = 0.0;
                }
                if linear && data_hi <= 0.0 && hi > 0.0 {
                    hi = 0.0;
                }
            }
            // Percentiles start at 0 %.
            if opts.scale == Scale::Percentile && lo < 0.0 {
                lo = 0.0;
            }
        }
        let mut axis = Axis {
            scale: opts.scale,
            lo,
            hi,
            major: Vec::new(),
            minor: Vec::new(),
            labels: Vec::new(),
        };
        axis.ticks(opts.max_ticks.max(2));
        axis
    }

    /// Label for a tick position (axis space).
    pub fn label(&self, t: f64) -> String {
        self.labels
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
            .filter(|(p, _)| (p - t).abs() <= (self.hi - self.lo).abs() * 1e-6)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| fmt_num(self.scale.inverse(t), 6))
    }

    /// All tick labels, for measuring.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|(_, s)| s.as_str())
    }

    fn ticks(&mut self, max_ticks: usize) {
        match self.scale {
            Scale::Linear => self.linear_ticks(max_ticks),
            Scale::Log10 => self.log_ticks(max_ticks),
            Scale::Percentile => self.percentile_ticks(max_ticks),
        }
    }

    fn push_major(&mut self, t: f64, label: String) {
        self.major.push(t);
        self.labels.push((t, label));
    }

    fn linear_ticks(&mut self, max_ticks: usize) {
        let (lo, hi) = (self.lo, self.hi);
        for (v, label) in nice_linear(lo, hi, max_ticks) {
            self.push_major(v, label);
        }
    }

    fn log_ticks(&mut self, max_ticks: usize) {
        let (lo, hi) = (self.lo, self.hi);
        let eps = (hi - lo) * 1e-9;
        let k0 = (lo - eps).ceil() as i64;
        let k1 = (hi + eps).floor() as i64;
        let decades = k1 - k0 + 1;
        let in_range = |t: f64| t >= lo - eps && t <= hi + eps;
        let mut c125 = Vec::new();
        for k in (lo.floor() as i64 - 1)..=(hi.ceil() as i64) {
            for m in [1.0f64, 2.0, 5.0] {
                let t = k as f64 + m.log10();
                if in_range(t) {
                    c125.push((t, m * 10f64.powi(k as i32)));
                }
            }
        }
        let minors = |ms: &[f64]| {
            let mut out = Vec::new();
            for k in (lo.floor() as i64 - 1)..=(hi.ceil() as i64) {
                for &m in ms {
                    let t = k as f64 + m.log10();
                    if t > lo && t < hi {
                        out.push(t);
                    }
                }
            }
            out
        };
        let few_decades = decades <= 3 && c125.len() <= max_ticks;
        if decades >= 2 && !(few_decades && c125.len() >= 3) {
            // Decades only (every n-th one if there are many).
            let every = (decades as usize).div_ceil(max_ticks).max(1) as i64;
            for k in k0..=k1 {
                if (k - k0) % every == 0 {
                    self.push_major(k as f64, fmt_pow10(k));
                }
            }
            if every == 1 && decades <= 8 {
                self.minor = minors(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
            }
            return;
        }
        if c125.len() >= 3 && c125.len() <= max_ticks {
            for (t, v) in c125 {
                self.push_major(t, fmt_num(v, decimals_for(v)));
            }
            self.minor = minors(&[3.0, 4.0, 6.0, 7.0, 8.0, 9.0]);
            return;
        }
        // Less than a factor of ~5: linear ticks in value space.
        let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
        for (v, label) in nice_linear(vlo, vhi, max_ticks.min(6)) {
            if v > 0.0 {
                self.push_major(v.log10(), label);
            }
        }
    }

    fn percentile_ticks(&mut self, max_ticks: usize) {
        // (percent, is-"nines" tick)
        let mut cands: Vec<(f64, bool)> =
            vec![(0.0, true), (25.0, false), (50.0, true), (75.0, false)];
        for k in 1..=9 {
            let nines = 100.0 * (1.0 - 10f64.powi(-k));
            let half = 100.0 * (1.0 - 5.0 * 10f64.powi(-k - 1));
            cands.push((nines, true));
            cands.push((half, false));
        }
        let eps = (self.hi - self.lo) * 1e-9;
        let in_range: Vec<(f64, f64, bool)> = cands
            .into_iter()
            .filter_map(|(p, nines)| {
                let t = -(1.0 - p / 100.0).log10();
                (t >= self.lo - eps && t <= self.hi + eps).then_some((t, p, nines))
            })
            .collect();
        let use_all = in_range.len() <= max_ticks;
        for (t, p, nines) in in_range {
            if use_all || nines {
                self.push_major(t, format!("{}%", fmt_num(p, 6)));
            } else {
                self.minor.push(t);
            }
        }
        if self.major.len() < 2 {
            // Very narrow range: plain linear percent ticks.
            self.major.clear();
            self.labels.clear();
            let (plo, phi) = (self.scale.inverse(self.lo), self.scale.inverse(self.hi));
            for (p, label) in nice_linear(plo, phi, max_ticks.min(6)) {
                if let Some(t) = Scale::Percentile.forward(p) {
                    self.push_major(t, format!("{label}%"));
                }
            }
        }
    }
}

/// Nice linear ticks in `[lo, hi]` with their labels.
fn nice_linear(lo: f64, hi: f64, max_ticks: usize) -> Vec<(f64, String)> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return vec![(lo, fmt_num(lo, decimals_for(lo)))];
    }
    let raw = span / max_ticks.max(2) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= max_ticks as f64)
        .unwrap_or(10.0 * mag);
    let decimals = {
        // enough decimals to show the step exactly (2.5 needs one more)
        let d = (-step.log10().floor()).max(0.0) as usize;
        if ((step / 10f64.powi(-(d as i32))) - (step / 10f64.powi(-(d as i32))).round()).abs()
            > 1e-6
        {
            d + 1
        } else {
            d
        }
    };
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .take(1000)
        .map(|i| {
            let v = i as f64 * step;
            (v, fmt_num(v, decimals.min(12)))
        })
        .collect()
}

fn decimals_for(v: f64) -> usize {
    if v == 0.0 || !v.is_finite() {
        0
    } else {
        ((-v.abs().log10().floor()).max(0.0) as usize + 1).min(12)
    }
}

fn fmt_pow10(k: i64) -> String {
    if (-4..=6).contains(&k) {
        fmt_num(10f64.powi(k as i32), (-k).max(0) as usize)
    } else {
        format!("1e{k}")
    }
}

/// Format with at most `decimals` decimals, trailing zeros trimmed; very
/// large or small magnitudes in exponent notation.
pub(crate) fn fmt_num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 || (decimals == 0 && a < 0.5) {
        return "0".to_string();
    }
    if !(1e-5..1e7).contains(&a) {
        let s = format!("{v:.3e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{e}", trim_zeros(m));
    }
    let s = format!("{v:.decimals$}");
    let s = trim_zeros(&s);
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(scale: Scale) -> AxisOpts {
        AxisOpts {
            scale,
            pad: 0.05,
            include_zero: false,
            max_ticks: 8,
        }
    }

    fn labels(a: &Axis) -> Vec<String> {
        a.major.iter().map(|t| a.label(*t)).collect()
    }

    #[test]
    fn linear_basic() {
        let a = Axis::plan([0.0, 100.0], opts(Scale::Linear));
        assert_eq!(a.lo, 0.0);
        assert!(a.hi > 100.0);
        assert_eq!(labels(&a)[..3], ["0", "20", "40"]);
    }

    #[test]
    fn linear_equal_and_empty() {
        let a = Axis::plan([5.0, 5.0], opts(Scale::Linear));
        assert!(a.lo < 5.0 && a.hi > 5.0 && a.major.len() >= 2);
        let a = Axis::plan([0.0], opts(Scale::Linear));
        assert!(a.lo == 0.0 && a.hi > 0.0 && a.major.len() >= 2);
        let a = Axis::plan([-3.0, -3.0], opts(Scale::Linear));
        assert!(a.lo < -3.0 && a.hi > -3.0 && a.major.len() >= 2);
        let a = Axis::plan([0.0, 0.0], opts(Scale::Percentile));
        assert!(a.lo == 0.0 && a.hi > 0.0 && a.major.len() >= 2);
        let a = Axis::plan([], opts(Scale::Linear));
        assert!(a.lo < a.hi && a.major.len() >= 2);
        let a = Axis::plan([f64::NAN], opts(Scale::Log10));
        assert!(a.lo < a.hi && !a.major.is_empty());
    }

    #[test]
    fn extreme_magnitudes() {
        for vals in [
            [f64::MAX, -f64::MAX],
            [f64::MAX, f64::MAX],
            [1e-300, 2e-300],
        ] {
            let a = Axis::plan(vals, opts(Scale::Linear));
            assert!(
                a.lo.is_finite() && a.hi.is_finite() && a.lo < a.hi,
                "{vals:?} {a:?}"
            );
            assert!(!a.major.is_empty(), "{vals:?}");
        }
    }

    #[test]
    fn linear_include_zero() {
        let mut o = opts(Scale::Linear);
        o.include_zero = true;
        let a = Axis::plan([500.0, 520.0], o);
        assert_eq!(a.lo, 0.0);
    }

    #[test]
    fn step_decimals() {
        let a = Axis::plan([0.0, 0.9], opts(Scale::Linear));
        assert!(labels(&a).contains(&"0.2".to_string()), "{:?}", labels(&a));
        let l = nice_linear(0.0, 10.0, 4);
        assert_eq!(
            l.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            ["0", "2.5", "5", "7.5", "10"]
        );
    }

    #[test]
    fn log_decades() {
        let a = Axis::plan([0.0, 4.0], opts(Scale::Log10));
        assert_eq!(labels(&a), ["1", "10", "100", "1000", "10000"]);
        let a = Axis::plan([0.0, 2.0], opts(Scale::Log10));
        assert_eq!(labels(&a), ["1", "2", "5", "10", "20", "50", "100"]);
        assert!(!a.minor.is_empty());
        let a = Axis::plan([-4.0, -1.0], opts(Scale::Log10));
        assert_eq!(labels(&a), ["0.0001", "0.001", "0.01", "0.1"]);
    }

    #[test]
    fn log_narrow() {
        let a = Axis::plan([2f64.log10(), 8f64.log10()], opts(Scale::Log10));
        assert!(a.major.len() >= 2, "{:?}", labels(&a));
        let a = Axis::plan([100f64.log10(), 110f64.log10()], opts(Scale::Log10));
        assert!(a.major.len() >= 2, "{:?}", labels(&a));
    }

    #[test]
    fn percentile() {
        let ts: Vec<f64> = [50.0, 99.9]
            .iter()
            .map(|p| Scale::Percentile.forward(*p).unwrap())
            .collect();
        let a = Axis::plan(ts, opts(Scale::Percentile));
        let l = labels(&a);
        for want in ["50%", "90%", "99%", "99.9%"] {
            assert!(l.contains(&want.to_string()), "{l:?}");
        }
        assert_eq!(Scale::Percentile.forward(100.0), None);
        assert_eq!(Scale::Percentile.forward(0.0), Some(0.0));
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_num(-0.0, 2), "0");
        assert_eq!(fmt_num(0.30000000000000004, 1), "0.3");
        assert_eq!(fmt_num(1.5e9, 0), "1.5e9");
        assert_eq!(fmt_pow10(9), "1e9");
        assert_eq!(fmt_pow10(-2), "0.01");
    }
}
