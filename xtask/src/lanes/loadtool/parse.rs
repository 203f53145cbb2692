//! Pure readers of what the known load tools print: their own throughput
//! and latency figures, tested on outputs captured from the tools here
//! (xtask/tests/data/loadtool). A line a reader does not know is skipped;
//! an output without the tool's headline figure reads as no figures.

use crate::results::tool::{ToolFigure, ToolKind};

/// The figures in `stdout` of a `kind` run (empty when there are none).
pub fn figures(kind: ToolKind, stdout: &str) -> Vec<ToolFigure> {
    match kind {
        ToolKind::Pgbench => pgbench(stdout).into_iter().collect(),
        ToolKind::RedisBenchmark => {
            let csv = redis_csv(stdout);
            if csv.is_empty() {
                redis_quiet(stdout)
            } else {
                csv
            }
        }
    }
}

/// pgbench's summary: `tps = …` is required; transaction type, counts and
/// mean/stddev latency where printed. pgbench prints no percentiles.
pub fn pgbench(text: &str) -> Option<ToolFigure> {
    let mut f = ToolFigure::default();
    let mut tps = None;
    let number = |s: &str| -> Option<f64> { s.split_whitespace().next()?.parse().ok() };
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("transaction type:") {
            f.test = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("number of transactions actually processed:") {
            // `911` in a timed run, `911/1000` in a counted one.
            f.count = v
                .trim()
                .split('/')
                .next()
                .and_then(|n| n.trim().parse().ok());
        } else if let Some(v) = line.strip_prefix("number of failed transactions:") {
            f.failed = v.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(v) = line.strip_prefix("latency average =") {
            f.latency_avg_ms = ms(v);
        } else if let Some(v) = line.strip_prefix("latency stddev =") {
            f.latency_stddev_ms = ms(v);
        } else if let Some(v) = line.strip_prefix("tps =") {
            tps = number(v);
        }
    }
    f.throughput_per_s = tps.filter(|t: &f64| t.is_finite())?;
    if f.test.is_empty() {
        f.test = "pgbench".into();
    }
    Some(f)
}

/// `14.260 ms` → 14.26; other units are not pgbench's.
fn ms(v: &str) -> Option<f64> {
    let mut w = v.split_whitespace();
    let n: f64 = w.next()?.parse().ok()?;
    (w.next() == Some("ms")).then_some(n)
}

/// redis-benchmark `--csv`: a header naming the columns, then one row per
/// test. Columns are found by name, so an older layout without the
/// percentiles still reads.
pub fn redis_csv(text: &str) -> Vec<ToolFigure> {
    let fields = |l: &str| -> Vec<String> {
        l.split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect()
    };
    let mut lines = text.lines().filter(|l| l.starts_with('"'));
    let Some(header) = lines.next().map(fields) else {
        return Vec::new();
    };
    if header.first().map(String::as_str) != Some("test") {
        return Vec::new();
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut out = Vec::new();
    for row in lines.map(fields) {
        let get = |name: &str| -> Option<f64> { row.get(col(name)?)?.parse().ok() };
        let Some(rps) = get("rps") else { continue };
        out.push(ToolFigure {
            test: row[0].clone(),
            throughput_per_s: rps,
            latency_avg_ms: get("avg_latency_ms"),
            latency_min_ms: get("min_latency_ms"),
            latency_p50_ms: get("p50_latency_ms"),
            latency_p95_ms: get("p95_latency_ms"),
            latency_p99_ms: get("p99_latency_ms"),
            latency_max_ms: get("max_latency_ms"),
            ..ToolFigure::default()
        });
    }
    out
}

/// redis-benchmark `-q`: `GET: 14224.75 requests per second, p50=0.103
/// msec` after its progress lines (which end in carriage returns).
pub fn redis_quiet(text: &str) -> Vec<ToolFigure> {
    text.split(['\r', '\n'])
        .filter_map(|seg| {
            let (test, rest) = seg.trim().split_once(": ")?;
            let (rps, rest) = rest.split_once(" requests per second")?;
            let p50 = rest
                .split_once("p50=")
                .and_then(|(_, v)| v.trim_end_matches(" msec").trim().parse().ok());
            Some(ToolFigure {
                test: test.to_string(),
                throughput_per_s: rps.trim().parse().ok()?,
                latency_p50_ms: p50,
                ..ToolFigure::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PGBENCH: &str = include_str!("../../../tests/data/loadtool/pgbench.stdout");
    const REDIS_CSV: &str = include_str!("../../../tests/data/loadtool/redis-benchmark.csv");
    const REDIS_Q: &str = include_str!("../../../tests/data/loadtool/redis-benchmark-q.stdout");

    #[test]
    fn pgbench_summary_of_a_timed_run() {
        let f = pgbench(PGBENCH).unwrap();
        assert_eq!(f.test, "<builtin: TPC-B (sort of)>");
        assert_eq!(f.throughput_per_s, 280.507673);
        assert_eq!(f.latency_avg_ms, Some(14.26));
        assert_eq!(f.count, Some(911));
        assert_eq!(f.failed, Some(0));
        assert_eq!(f.latency_stddev_ms, None, "printed only with -P or --rate");
        assert_eq!(f.latency_p99_ms, None, "pgbench prints no percentiles");
    }

    #[test]
    fn pgbench_counted_run_and_truncated_output() {
        let t = "number of transactions actually processed: 90/100\nlatency average = 2.5 ms\nlatency stddev = 0.7 ms\ntps = 12.5 (without initial connection time)\n";
        let f = pgbench(t).unwrap();
        assert_eq!(
            (f.count, f.latency_stddev_ms, f.test.as_str()),
            (Some(90), Some(0.7), "pgbench")
        );
        // A run that died before its summary has no figures, not zeros.
        let cut: String = PGBENCH.lines().take(9).collect::<Vec<_>>().join("\n");
        assert_eq!(pgbench(&cut), None);
        assert_eq!(pgbench("tps = nan\n"), None);
        assert_eq!(pgbench(""), None);
    }

    #[test]
    fn redis_benchmark_csv_rows_by_column_name() {
        let f = figures(ToolKind::RedisBenchmark, REDIS_CSV);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].test, "SET");
        assert_eq!(f[0].throughput_per_s, 29455.08);
        assert_eq!(f[0].latency_p50_ms, Some(0.103));
        assert_eq!(f[0].latency_p99_ms, Some(6.103));
        assert_eq!(f[1].test, "GET");
        assert_eq!(f[1].latency_max_ms, Some(19.039));
        // redis 6's layout: test and rps only.
        let old = redis_csv("\"test\",\"rps\"\n\"GET\",\"10.5\"\n");
        assert_eq!(
            (old[0].throughput_per_s, old[0].latency_p99_ms),
            (10.5, None)
        );
        assert!(
            redis_csv("\"GET\",\"10.5\"\n").is_empty(),
            "no header: columns unknown"
        );
    }

    #[test]
    fn redis_benchmark_quiet_skips_progress() {
        let f = figures(ToolKind::RedisBenchmark, REDIS_Q);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].test, "GET");
        assert_eq!(f[0].throughput_per_s, 14224.75);
        assert_eq!(f[0].latency_p50_ms, Some(0.103));
        assert!(figures(ToolKind::RedisBenchmark, "Could not connect to Redis").is_empty());
    }
}
