//! Host load, sampled at 1 Hz through every lane: a noisy neighbour makes a
//! run unfit to judge, and compare refuses such runs.

use super::parse::{parse_loadavg, parse_psi_some_avg10};
use super::sampler::Ticker;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct HostLoad {
    pub load1: f64,
    /// `some avg10` of /proc/pressure/cpu, percent; None without PSI.
    pub cpu_psi: Option<f64>,
}

pub fn read() -> anyhow::Result<HostLoad> {
    let load1 = parse_loadavg(&std::fs::read_to_string("/proc/loadavg")?)?;
    let cpu_psi = std::fs::read_to_string("/proc/pressure/cpu")
        .ok()
        .and_then(|t| parse_psi_some_avg10(&t));
    Ok(HostLoad { load1, cpu_psi })
}

pub fn spawn(origin: Instant) -> Ticker<HostLoad> {
    Ticker::spawn("runcost-hostload", 1.0, origin, read)
}
