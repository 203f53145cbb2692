//! Configuration from environment variables.
//!
//! Every knob is validated up front: the harness relies on the gateway doing
//! exactly what its configuration says, so a value that cannot be honoured is
//! an error (exit code 2), never silently clamped.

use std::fmt;

/// Default port; the Dockerfile EXPOSEs the same.
pub const DEFAULT_PORT: u16 = 8080;
/// Fault records kept when `FAULT_RETAIN` is 0.
pub const FAULT_RING: usize = 64;
/// Upper bound for one `POST /faults?count=N` burst.
pub const MAX_FAULT_COUNT: u64 = 100_000;

/// Largest single allocation we will attempt. Rust allocations cannot exceed
/// `isize::MAX`; anything near that is a configuration mistake anyway.
const MAX_ALLOC: u64 = isize::MAX as u64;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub port: u16,
    pub entities: u64,
    pub growth_k: f64,
    pub entity_bytes: u64,
    pub base_mib: u64,
    pub refresh_ms: u64,
    pub leak_bytes_per_s: u64,
    pub leak_per_delete_bytes: u64,
    pub stall_ms: u64,
    pub stall_every_s: u64,
    pub fault_retain: bool,
    pub fault_record_bytes: u64,
    pub workers: Option<usize>,
    /// Bytes each open `/events` stream holds.
    pub stream_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: DEFAULT_PORT,
            entities: 0,
            growth_k: 1.0,
            entity_bytes: 4096,
            base_mib: 0,
            refresh_ms: 0,
            leak_bytes_per_s: 0,
            leak_per_delete_bytes: 0,
            stall_ms: 0,
            stall_every_s: 0,
            fault_retain: false,
            fault_record_bytes: 65536,
            workers: None,
            stream_bytes: 16384,
        }
    }
}

/// A configuration error; always names the offending variable.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}={:?}: {}", self.var, self.value, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// `ENTITY_BYTES * n^k`, rounded to whole bytes; 0 when `n == 0`.
///
/// Returned as f64 so callers can detect overflow before converting.
pub fn total_entity_bytes_f64(entity_bytes: u64, n: u64, k: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    (entity_bytes as f64 * (n as f64).powf(k)).round()
}

/// Size of one entity buffer: the total spread evenly, at least one byte so
/// that every entity is a real heap allocation.
pub fn per_entity_bytes(total: u64, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    (total / n).max(1)
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds a configuration from any name -> value lookup (tests pass a map).
    /// Unset and empty variables both mean "use the default", because compose
    /// files commonly pass `VAR=` for "not set".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |var: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let d = Config::default();

        let port = match get("PORT") {
            None => d.port,
            Some(v) => v
                .parse::<u16>()
                .map_err(|_| err("PORT", &v, "expected an integer 0..=65535"))?,
        };
        let entities = uint(&get, "ENTITIES", d.entities)?;
        let growth_k = match get("GROWTH_K") {
            None => d.growth_k,
            Some(v) => match v.parse::<f64>() {
                Ok(k) if k.is_finite() && k > 0.0 => k,
                _ => return Err(err("GROWTH_K", &v, "expected a finite number > 0")),
            },
        };
        let entity_bytes = uint(&get, "ENTITY_BYTES", d.entity_bytes)?;
        let base_mib = uint(&get, "BASE_MIB", d.base_mib)?;
        let refresh_ms = uint(&get, "REFRESH_MS", d.refresh_ms)?;
        let leak_bytes_per_s = uint(&get, "LEAK_BYTES_PER_S", d.leak_bytes_per_s)?;
        let leak_per_delete_bytes = uint(&get, "LEAK_PER_DELETE_BYTES", d.leak_per_delete_bytes)?;
        let stall_ms = uint(&get, "STALL_MS", d.stall_ms)?;
        let stall_every_s = uint(&get, "STALL_EVERY_S", d.stall_every_s)?;
        let fault_retain = match get("FAULT_RETAIN").as_deref() {
            None => d.fault_retain,
            Some("0") => false,
            Some("1") => true,
            Some(v) => return Err(err("FAULT_RETAIN", v, "expected 0 or 1")),
        };
        let fault_record_bytes = uint(&get, "FAULT_RECORD_BYTES", d.fault_record_bytes)?;
        let workers = match get("WORKERS") {
            None => None,
            Some(v) => match v.parse::<usize>() {
                Ok(w) if (1..=1024).contains(&w) => Some(w),
                _ => return Err(err("WORKERS", &v, "expected an integer 1..=1024")),
            },
        };

        let stream_bytes = uint(&get, "STREAM_BYTES", d.stream_bytes)?;
        if stream_bytes > 1 << 30 {
            return Err(err(
                "STREAM_BYTES",
                &stream_bytes.to_string(),
                "at most 1073741824 (1 GiB) per stream",
            ));
        }
        let cfg = Config {
            port,
            entities,
            growth_k,
            entity_bytes,
            base_mib,
            refresh_ms,
            leak_bytes_per_s,
            leak_per_delete_bytes,
            stall_ms,
            stall_every_s,
            fault_retain,
            fault_record_bytes,
            workers,
            stream_bytes,
        };
        cfg.check_sizes(&get)?;
        Ok(cfg)
    }

    /// Cross-field checks: sizes must be allocatable, the stall must leave
    /// the service some time to answer.
    fn check_sizes(
        &self,
        get: &impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let shown = |var| get(var).unwrap_or_default();
        let total = total_entity_bytes_f64(self.entity_bytes, self.entities, self.growth_k);
        if total > MAX_ALLOC as f64 {
            return Err(err(
                "ENTITIES",
                &shown("ENTITIES"),
                &format!(
                    "ENTITY_BYTES * ENTITIES^GROWTH_K = {total:.3e} bytes, more than can be allocated"
                ),
            ));
        }
        if self.entity_bytes > MAX_ALLOC {
            return Err(err("ENTITY_BYTES", &shown("ENTITY_BYTES"), "too large"));
        }
        let base_ok = matches!(self.base_mib.checked_mul(1 << 20), Some(b) if b <= MAX_ALLOC);
        if !base_ok {
            return Err(err("BASE_MIB", &shown("BASE_MIB"), "too large"));
        }
        for (var, v) in [
            ("LEAK_BYTES_PER_S", self.leak_bytes_per_s),
            ("LEAK_PER_DELETE_BYTES", self.leak_per_delete_bytes),
        ] {
            if v > MAX_ALLOC {
                return Err(err(var, &shown(var), "too large"));
            }
        }
        if self.fault_record_bytes == 0 || self.fault_record_bytes > MAX_ALLOC {
            return Err(err(
                "FAULT_RECORD_BYTES",
                &shown("FAULT_RECORD_BYTES"),
                "expected an integer >= 1 (each fault allocates one record)",
            ));
        }
        if self.stall_every_s > 0
            && u128::from(self.stall_ms) >= u128::from(self.stall_every_s) * 1000
        {
            return Err(err(
                "STALL_MS",
                &shown("STALL_MS"),
                "must be shorter than STALL_EVERY_S, or the service would never answer",
            ));
        }
        Ok(())
    }

    /// Target total bytes of entity memory at start, `ENTITY_BYTES * ENTITIES^GROWTH_K`.
    pub fn total_entity_bytes(&self) -> u64 {
        // check_sizes guarantees this fits.
        total_entity_bytes_f64(self.entity_bytes, self.entities, self.growth_k) as u64
    }

    /// Size of every entity buffer, including ones created later by POST.
    /// With `ENTITIES=0` there is no total to spread, so a POSTed entity gets
    /// the size it would have as the only entity: `ENTITY_BYTES * 1^k`.
    pub fn entity_size(&self) -> usize {
        let size = if self.entities == 0 {
            self.entity_bytes.max(1)
        } else {
            per_entity_bytes(self.total_entity_bytes(), self.entities)
        };
        size as usize
    }

    pub fn stall_enabled(&self) -> bool {
        self.stall_every_s > 0 && self.stall_ms > 0
    }

    /// The one-line summary logged at start.
    pub fn summary(&self) -> String {
        format!(
            "port={} entities={} growth_k={} entity_bytes={} entity_total_bytes={} entity_size={} \
             base_mib={} refresh_ms={} leak_bytes_per_s={} leak_per_delete_bytes={} stall_ms={} \
             stall_every_s={} fault_retain={} fault_record_bytes={} workers={}",
            self.port,
            self.entities,
            self.growth_k,
            self.entity_bytes,
            self.total_entity_bytes(),
            self.entity_size(),
            self.base_mib,
            self.refresh_ms,
            self.leak_bytes_per_s,
            self.leak_per_delete_bytes,
            self.stall_ms,
            self.stall_every_s,
            u8::from(self.fault_retain),
            self.fault_record_bytes,
            self.workers
                .map_or_else(|| "default".to_string(), |w| w.to_string()),
        )
    }
}

fn err(var: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        var,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn uint(
    get: &impl Fn(&'static str) -> Option<String>,
    var: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| err(var, &v, "expected a non-negative integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.port, 8080);
        assert_eq!(c.total_entity_bytes(), 0);
        assert_eq!(c.entity_size(), 4096);
        assert!(!c.stall_enabled());
    }

    #[test]
    fn all_variables_parse() {
        let c = parse(&[
            ("PORT", "9000"),
            ("ENTITIES", "1000"),
            ("GROWTH_K", "1.5"),
            ("ENTITY_BYTES", "1024"),
            ("BASE_MIB", "3"),
            ("REFRESH_MS", "250"),
            ("LEAK_BYTES_PER_S", "100000"),
            ("LEAK_PER_DELETE_BYTES", "512"),
            ("STALL_MS", "200"),
            ("STALL_EVERY_S", "5"),
            ("FAULT_RETAIN", "1"),
            ("FAULT_RECORD_BYTES", "100"),
            ("WORKERS", "2"),
        ])
        .unwrap();
        assert_eq!(
            c,
            Config {
                port: 9000,
                entities: 1000,
                growth_k: 1.5,
                entity_bytes: 1024,
                base_mib: 3,
                refresh_ms: 250,
                leak_bytes_per_s: 100_000,
                leak_per_delete_bytes: 512,
                stall_ms: 200,
                stall_every_s: 5,
                fault_retain: true,
                fault_record_bytes: 100,
                workers: Some(2),
                stream_bytes: 16384,
            }
        );
        assert!(c.stall_enabled());
        assert!(c.summary().contains("growth_k=1.5"));
    }

    #[test]
    fn empty_means_default() {
        let c = parse(&[("PORT", ""), ("WORKERS", " "), ("GROWTH_K", "")]).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            ("PORT", "70000"),
            ("PORT", "http"),
            ("ENTITIES", "-1"),
            ("ENTITIES", "1e3"),
            ("GROWTH_K", "0"),
            ("GROWTH_K", "-1"),
            ("GROWTH_K", "NaN"),
            ("GROWTH_K", "inf"),
            ("GROWTH_K", "fast"),
            ("ENTITY_BYTES", "4k"),
            ("BASE_MIB", "1.5"),
            ("BASE_MIB", "18446744073709551615"),
            ("REFRESH_MS", "x"),
            ("LEAK_BYTES_PER_S", "-5"),
            ("LEAK_PER_DELETE_BYTES", "lots"),
            ("STALL_MS", "?"),
            ("STALL_EVERY_S", "1.5"),
            ("FAULT_RETAIN", "yes"),
            ("FAULT_RETAIN", "2"),
            ("FAULT_RECORD_BYTES", "0"),
            ("WORKERS", "0"),
            ("WORKERS", "many"),
        ];
        for &(var, value) in cases {
            let e = parse(&[(var, value)]).expect_err(&format!("{var}={value} should fail"));
            assert_eq!(e.var, var, "{var}={value}");
            assert!(e.to_string().contains(var));
        }
    }

    #[test]
    fn stall_must_leave_time_to_answer() {
        let e = parse(&[("STALL_MS", "1000"), ("STALL_EVERY_S", "1")]).unwrap_err();
        assert_eq!(e.var, "STALL_MS");
        assert!(parse(&[("STALL_MS", "999"), ("STALL_EVERY_S", "1")]).is_ok());
        // A duration without a period is simply off.
        assert!(!parse(&[("STALL_MS", "500")]).unwrap().stall_enabled());
    }

    #[test]
    fn oversized_totals_are_rejected() {
        let e = parse(&[("ENTITIES", "1000000"), ("GROWTH_K", "4")]).unwrap_err();
        assert_eq!(e.var, "ENTITIES");
        assert!(e.reason.contains("GROWTH_K"));
    }

    #[test]
    fn total_bytes_arithmetic() {
        assert_eq!(total_entity_bytes_f64(4096, 0, 1.0), 0.0);
        assert_eq!(total_entity_bytes_f64(4096, 0, 2.0), 0.0);
        assert_eq!(total_entity_bytes_f64(4096, 1, 1.5), 4096.0);
        assert_eq!(total_entity_bytes_f64(4096, 100, 1.0), 409_600.0);
        assert_eq!(total_entity_bytes_f64(4096, 10_000, 1.0), 40_960_000.0);
        assert_eq!(total_entity_bytes_f64(4096, 100, 1.5), 4_096_000.0);
        assert_eq!(total_entity_bytes_f64(4096, 10_000, 1.5), 4_096_000_000.0);
        assert_eq!(total_entity_bytes_f64(4096, 100, 2.0), 40_960_000.0);
        assert_eq!(total_entity_bytes_f64(4096, 10_000, 0.5), 409_600.0);
        // 4096 * 1000^1.5 = 129_526_892.95..., rounded.
        assert_eq!(total_entity_bytes_f64(4096, 1000, 1.5), 129_526_893.0);
    }

    #[test]
    fn per_entity_size() {
        assert_eq!(per_entity_bytes(0, 0), 0);
        assert_eq!(per_entity_bytes(409_600, 100), 4096);
        assert_eq!(per_entity_bytes(129_526_893, 1000), 129_526);
        // Sub-byte shares still get one byte each.
        assert_eq!(per_entity_bytes(10, 100), 1);
        let c = parse(&[("ENTITIES", "100"), ("GROWTH_K", "1.5")]).unwrap();
        assert_eq!(c.total_entity_bytes(), 4_096_000);
        assert_eq!(c.entity_size(), 40_960);
        let c = parse(&[("ENTITIES", "10"), ("ENTITY_BYTES", "0")]).unwrap();
        assert_eq!(c.entity_size(), 1);
    }
}
