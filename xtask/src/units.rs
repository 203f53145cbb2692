//! Human-friendly quantities at the edge (flags, profiles, reports):
//! durations like `30s`, `2m`, `500ms` and sizes like `64MiB`, `1.5 GiB`,
//! `10MB`. Inside the tool they are `std::time::Duration` and byte counts;
//! this is the one place that parses and prints them.

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

/// A size in bytes. Serialized as a plain integer (run.json and baselines
/// hold byte counts); read from an integer or a string such as `64MiB`,
/// `1.5 GiB`, `512KiB`, `10MB` (decimal) or `4096`. Printed exact below
/// 1 KiB (`512 B`), else in the largest binary unit that keeps the number
/// at least 1, with two decimals (`3.20 KiB`, `24.50 MiB`); `{:.1}` asks
/// for another number of decimals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

/// Binary units of [`Bytes`]' display, smallest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteUnit {
    B,
    KiB,
    MiB,
    GiB,
    TiB,
}

impl ByteUnit {
    const ALL: [ByteUnit; 5] = [
        ByteUnit::B,
        ByteUnit::KiB,
        ByteUnit::MiB,
        ByteUnit::GiB,
        ByteUnit::TiB,
    ];

    pub const fn bytes(self) -> u64 {
        match self {
            ByteUnit::B => 1,
            ByteUnit::KiB => 1 << 10,
            ByteUnit::MiB => 1 << 20,
            ByteUnit::GiB => 1 << 30,
            ByteUnit::TiB => 1 << 40,
        }
    }

    pub const fn suffix(self) -> &'static str {
        match self {
            ByteUnit::B => "B",
            ByteUnit::KiB => "KiB",
            ByteUnit::MiB => "MiB",
            ByteUnit::GiB => "GiB",
            ByteUnit::TiB => "TiB",
        }
    }

    /// `bytes` expressed in this unit (for chart axes and fixed-unit columns).
    pub fn of(self, bytes: f64) -> f64 {
        bytes / self.bytes() as f64
    }

    /// `bytes` in this unit with `decimals` decimals and the suffix:
    /// table columns that must line up use one fixed unit.
    pub fn show(self, bytes: f64, decimals: usize) -> String {
        format!("{:.decimals$} {}", self.of(bytes), self.suffix())
    }

    /// The unit [`Bytes`]' display picks for a magnitude.
    fn for_magnitude(bytes: f64) -> ByteUnit {
        ByteUnit::ALL
            .into_iter()
            .rev()
            .find(|u| bytes >= u.bytes() as f64)
            .unwrap_or(ByteUnit::B)
    }
}

/// Suffixes `Bytes::from_str` accepts (compared case-insensitively).
const SIZE_SUFFIXES: [(&str, u64); 10] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("", 1),
];

/// A signed, possibly fractional byte amount (a difference, a slope, a mean)
/// in [`Bytes`]' style: `−1.50 MiB`, `12 B`.
pub fn show_bytes(v: f64) -> String {
    show_bytes_with(v, 2)
}

fn show_bytes_with(v: f64, decimals: usize) -> String {
    let a = v.abs();
    let sign = if v < 0.0 && a.round() > 0.0 {
        "−"
    } else {
        ""
    };
    match ByteUnit::for_magnitude(a) {
        ByteUnit::B => format!("{sign}{a:.0} B"),
        u => format!("{sign}{}", u.show(a, decimals)),
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show_bytes_with(self.0 as f64, f.precision().unwrap_or(2)))
    }
}

impl std::str::FromStr for Bytes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let accepted = "write a byte count or a size such as 4096, 512KiB, 64MiB, 1.5 GiB or 10MB \
                        (suffixes B, KiB, MiB, GiB, TiB; decimal kB, MB, GB, TB)";
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let unit = unit.trim();
        let Some(&(_, scale)) = SIZE_SUFFIXES
            .iter()
            .find(|(suffix, _)| suffix.eq_ignore_ascii_case(unit))
        else {
            return Err(format!("`{s}`: unknown size unit `{unit}`; {accepted}"));
        };
        // Whole numbers stay exact integers; a fraction goes through f64
        // and is rounded to the byte.
        let bytes = if let Ok(n) = num.parse::<u64>() {
            n.checked_mul(scale)
        } else {
            let v: f64 = num
                .parse()
                .map_err(|_| format!("`{s}` is not a size; {accepted}"))?;
            let b = (v * scale as f64).round();
            (b.is_finite() && b < u64::MAX as f64).then_some(b as u64)
        };
        bytes
            .map(Bytes)
            .ok_or_else(|| format!("`{s}` is too large for a byte count"))
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
            Num(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Bytes(n)),
            Raw::Text(t) => t.parse().map_err(de::Error::custom),
            Raw::Num(n) => Err(de::Error::custom(format!(
                "{n} is not a byte count (a whole number ≥ 0); write e.g. 4096 or 1.5KiB"
            ))),
        }
    }
}

/// `deserialize_with` for a profile's `u64` byte field: an integer or a
/// size string (see [`Bytes`]).
pub fn de_bytes_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Bytes::deserialize(d).map(|b| b.0)
}

/// `deserialize_with` for a profile's `usize` byte field.
pub fn de_bytes_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let b = Bytes::deserialize(d)?;
    usize::try_from(b.0).map_err(|_| de::Error::custom(format!("{b} is too large")))
}

/// `deserialize_with` for a profile's byte amount per something (bytes/s,
/// bytes/cycle): a number, possibly fractional, or a size string.
pub fn de_bytes_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Num(n) => Ok(n),
        Raw::Text(t) => t
            .parse::<Bytes>()
            .map(|b| b.0 as f64)
            .map_err(de::Error::custom),
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

    #[test]
    fn sizes_parse_binary_decimal_and_bare() {
        let b = |s: &str| s.parse::<Bytes>().map(|b| b.0);
        assert_eq!(b("4096"), Ok(4096));
        assert_eq!(b("512KiB"), Ok(512 * 1024));
        assert_eq!(b("64MiB"), Ok(64 << 20));
        assert_eq!(b("64 mib"), Ok(64 << 20));
        assert_eq!(b("1.5 GiB"), Ok(3 << 29));
        assert_eq!(b("2TiB"), Ok(2 << 40));
        assert_eq!(b("10MB"), Ok(10_000_000));
        assert_eq!(b("3kB"), Ok(3000));
        assert_eq!(b("7 B"), Ok(7));
        assert_eq!(b("0.5KiB"), Ok(512));
        assert_eq!(b(" 18446744073709551615 "), Ok(u64::MAX));
        let e = b("10XB").unwrap_err();
        assert!(
            e.contains("unknown size unit `XB`") && e.contains("KiB, MiB"),
            "{e}"
        );
        assert!(b("MiB").unwrap_err().contains("is not a size"));
        assert!(b("-1KiB").unwrap_err().contains("unknown size unit"));
        assert!(b("1.2.3").is_err());
        assert!(b("20000000TiB").unwrap_err().contains("too large"));
        assert!(b("18446744073709551616").unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_print_in_one_style() {
        let show = |n: u64| Bytes(n).to_string();
        assert_eq!(show(0), "0 B");
        assert_eq!(show(512), "512 B");
        assert_eq!(show(1023), "1023 B");
        assert_eq!(show(1024), "1.00 KiB");
        assert_eq!(show(3277), "3.20 KiB");
        assert_eq!(show(24 * 1048576 + 524288), "24.50 MiB");
        assert_eq!(show(24 << 30), "24.00 GiB");
        assert_eq!(format!("{:.1}", Bytes(24 << 30)), "24.0 GiB");
        assert_eq!(show(3 << 40), "3.00 TiB");
        assert_eq!(show_bytes(-1.5 * 1048576.0), "−1.50 MiB");
        assert_eq!(show_bytes(-0.2), "0 B");
        assert_eq!(show_bytes(99.6), "100 B");
        assert_eq!(ByteUnit::MiB.show(70.0 * 1048576.0, 2), "70.00 MiB");
    }

    #[test]
    fn sizes_round_trip_through_their_display() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
        for _ in 0..10_000 {
            // Log-uniform over 1 B … 1 PiB: every unit is exercised.
            let n = 2f64.powf(rng.gen_range(0.0..50.0)) as u64;
            let shown = Bytes(n).to_string();
            let back: Bytes = shown.parse().unwrap();
            if n < 1024 {
                assert_eq!(back.0, n, "{shown}");
            } else {
                // Two decimals of a unit the value is at least 1 of.
                let err = (back.0 as f64 - n as f64).abs() / n as f64;
                assert!(err <= 0.005, "{n} → {shown} → {}", back.0);
            }
        }
    }

    #[test]
    fn sizes_serialize_as_integers_and_read_strings() {
        assert_eq!(serde_json::to_string(&Bytes(65536)).unwrap(), "65536");
        let from = |j: &str| serde_json::from_str::<Bytes>(j).map(|b| b.0);
        assert_eq!(from("65536").unwrap(), 65536);
        assert_eq!(from("\"64KiB\"").unwrap(), 65536);
        let e = from("1.5").unwrap_err().to_string();
        assert!(e.contains("not a byte count"), "{e}");
        assert!(from("\"64 furlongs\"").is_err());
        assert!(from("-3").is_err());
    }
}
