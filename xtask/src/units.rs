//! Human-friendly quantities at the edge (flags, profiles): durations like
//! `30s`, `2m`, `500ms` and sizes like `64MiB`. Inside the tool they are
//! `std::time::Duration` and byte counts.

use serde::{de, Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::Duration;

/// A duration parsed from `500ms`, `30s`, `2m`, `1h` (a bare number means seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration; write e.g. 500ms, 30s, 2m"))?;
        let scale = match unit.trim() {
            "ms" => 1e-3,
            "" | "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "`{s}`: unknown duration unit `{other}`; use ms, s, m or h"
                ))
            }
        };
        let secs = value * scale;
        if !secs.is_finite() || !(0.0..=7.0 * 86400.0).contains(&secs) {
            return Err(format!("`{s}` is out of range (0 to 7 days)"));
        }
        Ok(HumanDuration(Duration::from_secs_f64(secs)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            write!(f, "{ms}ms")
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => format!("{n}s").parse().map_err(de::Error::custom),
            Raw::Text(t) => t.parse().map_err(de::Error::custom),
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|d| d.0);
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(d("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(d("7"), Ok(Duration::from_secs(7)));
        assert!(d("10x").unwrap_err().contains("unknown duration unit"));
        assert!(d("abc").is_err());
        assert!(d("-3s").is_err());
    }

    #[test]
    fn durations_display_round_trips() {
        for s in ["500ms", "30s", "2m", "0s"] {
            assert_eq!(s.parse::<HumanDuration>().unwrap().to_string(), s);
        }
    }
}
