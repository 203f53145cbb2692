//! The generator's HTTP closed loop alone, for profiling: one worker
//! thread, `CONNS` connections, `SECONDS` seconds against
//! `http://127.0.0.1:PORT/PATH`; prints requests answered and the
//! generator's CPU per 1000 of them. Under callgrind the instruction
//! count per request is the figure (README, "Generator efficiency").
//!
//!     cargo build --release -p runcost-loadgen --example closed
//!     valgrind --tool=callgrind target/release/examples/closed 8080 /entities/1 16 3

use runcost_loadgen::{run, Config, Mode, RequestSpec};
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let port: u16 = arg(1, "8080").parse()?;
    let path = arg(2, "/");
    let conns: usize = arg(3, "16").parse()?;
    let secs: u64 = arg(4, "3").parse()?;
    let rt = runcost_loadgen::runtime()?;
    let mut config = Config::new(port, Mode::Closed);
    config.connections = conns;
    config.duration = Duration::from_secs(secs);
    config.warmup = Duration::ZERO;
    config.mix = vec![RequestSpec::get(&path)];
    let r = rt.block_on(run(config))?;
    println!(
        "ok {} errors {} in {:.2} s: {:.0}/s, CPU {:.2} ms per 1000",
        r.ok,
        r.error_count(),
        r.duration_s,
        r.throughput_ok_per_s,
        r.generator_cpu_s * 1e6 / (r.ok.max(1) as f64)
    );
    Ok(())
}
