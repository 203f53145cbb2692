//! The weighted request mix and its path templates.

use std::fmt::Write as _;

use anyhow::{bail, ensure, Context, Result};
use hyper::body::Bytes;
use hyper::{Method, Uri};
use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;
use rand_pcg::Pcg64;

use crate::config::RequestSpec;

#[derive(Debug, Clone)]
enum Segment {
    Lit(String),
    Rand,
    Seq,
}

#[derive(Debug, Clone)]
struct Entry {
    method: Method,
    segments: Vec<Segment>,
    body: Option<Bytes>,
}

/// One concrete request drawn from the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// Index into the `RequestSpec` list it was drawn from.
    pub spec_index: usize,
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
}

/// A validated, ready-to-draw request mix.
///
/// Request `seq` is a pure function of `(seed, seq)`: each draw seeds its own
/// `Pcg64` from the pair, so the sequence does not depend on which connection
/// sends which request or on timing. In open loop `seq` is the schedule index
/// (warm-up included), so a given seed and rate give the same requests run
/// after run; in closed loop it is a shared counter in send order.
#[derive(Debug, Clone)]
pub struct RequestMix {
    entries: Vec<Entry>,
    weights: WeightedIndex<u32>,
    rand_max: u64,
    seed: u64,
}

fn parse_template(t: &str) -> Result<Vec<Segment>> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Segment::Lit(rest[..open].to_string()));
        }
        let after = &rest[open..];
        if let Some(r) = after.strip_prefix("{rand}") {
            out.push(Segment::Rand);
            rest = r;
        } else if let Some(r) = after.strip_prefix("{seq}") {
            out.push(Segment::Seq);
            rest = r;
        } else {
            bail!("path template {t:?}: only {{rand}} and {{seq}} placeholders are known");
        }
    }
    if !rest.is_empty() {
        out.push(Segment::Lit(rest.to_string()));
    }
    Ok(out)
}

/// The generator of request `seq`'s random choices: a pure function of
/// the run's seed and `seq`, so a request can be replayed alone. Built from
/// its 128-bit state directly: `seed_from_u64` expands its seed with
/// another generator first, which cost more than the choices it made.
pub(crate) fn request_rng(seed: u64, seq: u64) -> Pcg64 {
    const STREAM: u128 = 0xa02b_dbf7_bb3c_0a7a_c28f_a16a_64ab_f96f;
    let x = seed ^ splitmix64(seq);
    let state = (u128::from(splitmix64(x)) << 64) | u128::from(splitmix64(!x));
    Pcg64::new(state, STREAM)
}

pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RequestMix {
    /// Validates the specs (non-empty, weights > 0, methods and paths valid,
    /// `rand_max >= 1` when `{rand}` is used).
    pub fn new(specs: &[RequestSpec], rand_max: u64, seed: u64) -> Result<Self> {
        ensure!(!specs.is_empty(), "the request mix is empty");
        let mut entries = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            ensure!(
                s.weight > 0,
                "mix[{i}] ({} {}): weight must be > 0",
                s.method,
                s.path_template
            );
            let method = Method::from_bytes(s.method.as_bytes())
                .with_context(|| format!("mix[{i}]: invalid method {:?}", s.method))?;
            ensure!(
                s.path_template.starts_with('/'),
                "mix[{i}]: path template {:?} must start with '/'",
                s.path_template
            );
            let segments = parse_template(&s.path_template).with_context(|| format!("mix[{i}]"))?;
            if segments.iter().any(|g| matches!(g, Segment::Rand)) {
                ensure!(
                    rand_max >= 1,
                    "mix[{i}]: path template {:?} uses {{rand}} but rand_max is 0",
                    s.path_template
                );
            }
            let entry = Entry {
                method,
                segments,
                body: s.body.clone().map(Bytes::from),
            };
            let sample = render(&entry, 0, 0);
            sample.parse::<Uri>().with_context(|| {
                format!(
                    "mix[{i}]: path template {:?} does not give a valid request path",
                    s.path_template
                )
            })?;
            entries.push(entry);
        }
        let weights = WeightedIndex::new(specs.iter().map(|s| s.weight))
            .context("mix weights (their sum must fit in u32)")?;
        Ok(RequestMix {
            entries,
            weights,
            rand_max,
            seed,
        })
    }

    /// The request with sequence number `seq`.
    pub fn request(&self, seq: u64) -> PlannedRequest {
        let mut rng = request_rng(self.seed, seq);
        let spec_index = self.weights.sample(&mut rng);
        let entry = &self.entries[spec_index];
        let mut path = String::new();
        for seg in &entry.segments {
            match seg {
                Segment::Lit(s) => path.push_str(s),
                Segment::Rand => {
                    let v = rng.gen_range(0..self.rand_max);
                    let _ = write!(path, "{v}");
                }
                Segment::Seq => {
                    let _ = write!(path, "{seq}");
                }
            }
        }
        PlannedRequest {
            spec_index,
            method: entry.method.clone(),
            path,
            body: entry.body.clone(),
        }
    }
}

impl RequestMix {
    /// Request `seq` (the one [`RequestMix::request`] plans, drawn the same
    /// way) as HTTP/1.1 bytes in `out`, which is cleared and reused: no
    /// allocation once `out` has grown. `headers` are whole header lines
    /// (`name: value\r\n`). Returns whether it is a HEAD request.
    pub(crate) fn render_http(&self, seq: u64, headers: &[u8], out: &mut Vec<u8>) -> bool {
        use std::io::Write as _;
        let mut rng = request_rng(self.seed, seq);
        let entry = &self.entries[self.weights.sample(&mut rng)];
        out.clear();
        out.extend_from_slice(entry.method.as_str().as_bytes());
        out.push(b' ');
        for seg in &entry.segments {
            match seg {
                Segment::Lit(s) => out.extend_from_slice(s.as_bytes()),
                Segment::Rand => {
                    let v = rng.gen_range(0..self.rand_max);
                    let _ = write!(out, "{v}");
                }
                Segment::Seq => {
                    let _ = write!(out, "{seq}");
                }
            }
        }
        out.extend_from_slice(b" HTTP/1.1\r\n");
        out.extend_from_slice(headers);
        let body = entry.body.as_deref().unwrap_or_default();
        let sends_length = entry.body.is_some()
            || matches!(entry.method, Method::POST | Method::PUT | Method::PATCH);
        if sends_length {
            let _ = write!(out, "content-length: {}\r\n", body.len());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        entry.method == Method::HEAD
    }
}

fn render(entry: &Entry, rand: u64, seq: u64) -> String {
    let mut s = String::new();
    for seg in &entry.segments {
        match seg {
            Segment::Lit(l) => s.push_str(l),
            Segment::Rand => {
                let _ = write!(s, "{rand}");
            }
            Segment::Seq => {
                let _ = write!(s, "{seq}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<RequestSpec> {
        vec![
            RequestSpec::get("/a"),
            RequestSpec {
                method: "GET".into(),
                path_template: "/b/{rand}?x={rand}".into(),
                weight: 3,
                body: None,
            },
            RequestSpec {
                method: "POST".into(),
                path_template: "/c/{seq}".into(),
                weight: 6,
                body: Some("{\"k\":1}".into()),
            },
        ]
    }

    #[test]
    fn rendered_bytes_are_the_planned_request() {
        let mix = RequestMix::new(&specs(), 50, 7).unwrap();
        let mut out = Vec::new();
        for seq in 0..200 {
            let p = mix.request(seq);
            let head = mix.render_http(seq, b"host: h:1\r\n", &mut out);
            let body = p.body.as_deref().unwrap_or_default();
            let length = if p.method == Method::POST {
                format!("content-length: {}\r\n", body.len())
            } else {
                String::new()
            };
            let want = format!(
                "{} {} HTTP/1.1\r\nhost: h:1\r\n{length}\r\n",
                p.method, p.path
            );
            let mut want = want.into_bytes();
            want.extend_from_slice(body);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&want),
                "seq {seq}"
            );
            assert!(!head);
        }
    }

    #[test]
    fn deterministic_per_seed_and_seq() {
        let a = RequestMix::new(&specs(), 50, 7).unwrap();
        let b = RequestMix::new(&specs(), 50, 7).unwrap();
        let c = RequestMix::new(&specs(), 50, 8).unwrap();
        let sa: Vec<_> = (0..500).map(|i| a.request(i)).collect();
        let sb: Vec<_> = (0..500).rev().map(|i| b.request(i)).collect();
        let sc: Vec<_> = (0..500).map(|i| c.request(i)).collect();
        assert!(
            sa.iter().eq(sb.iter().rev()),
            "order of drawing must not matter"
        );
        assert_ne!(sa, sc, "another seed gives another sequence");
    }

    #[test]
    fn substitutes_placeholders() {
        let m = RequestMix::new(&specs(), 50, 1).unwrap();
        for seq in 0..2000 {
            let r = m.request(seq);
            match r.spec_index {
                0 => assert_eq!(r.path, "/a"),
                1 => {
                    let rest = r.path.strip_prefix("/b/").unwrap();
                    let (x, y) = rest.split_once("?x=").unwrap();
                    assert!(x.parse::<u64>().unwrap() < 50);
                    assert!(y.parse::<u64>().unwrap() < 50);
                }
                2 => {
                    assert_eq!(r.path, format!("/c/{seq}"));
                    assert_eq!(r.method, Method::POST);
                    assert_eq!(r.body.as_deref(), Some(&b"{\"k\":1}"[..]));
                }
                _ => unreachable!(),
            }
        }
    }

    #[test]
    fn distribution_matches_weights() {
        // Chi-square goodness of fit, 2 degrees of freedom: 13.82 is the
        // 0.999 quantile. The seed is fixed, so this is deterministic.
        for seed in [0, 1, 42] {
            let m = RequestMix::new(&specs(), 10, seed).unwrap();
            let n = 20_000u64;
            let mut counts = [0u64; 3];
            for seq in 0..n {
                counts[m.request(seq).spec_index] += 1;
            }
            let expected = [0.1, 0.3, 0.6].map(|p| p * n as f64);
            let chi2: f64 = counts
                .iter()
                .zip(expected)
                .map(|(&o, e)| (o as f64 - e).powi(2) / e)
                .sum();
            assert!(chi2 < 13.82, "seed {seed}: counts {counts:?} chi2 {chi2}");
        }
    }
}
