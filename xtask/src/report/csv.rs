//! The samples CSV: one row per sampler tick of a cell (time, read latency,
//! every metric), written by the lanes and read back by the charts.

use super::format::Format;
use crate::probe::sampler::Sample;
use crate::probe::Reading;
use anyhow::{bail, Context, Result};

pub struct SamplesCsv;

impl Format for SamplesCsv {
    type Input = [Sample];

    fn render(&self, samples: &[Sample]) -> Result<String> {
        Ok(self.rows(samples))
    }
}

/// [`SamplesCsv`] for the lanes, without the `Result`: it cannot fail.
pub fn samples_csv(samples: &[Sample]) -> String {
    SamplesCsv.rows(samples)
}

impl SamplesCsv {
    fn rows(&self, samples: &[Sample]) -> String {
        let mut out = String::from(
            "t_s,read_s,rss,pss,pss_anon,uss,swap,vm_hwm,threads,fds,cpu_s,procs,cgroup_mem,cgroup_cpu_s,\
             vanished,group_unique,group_unique_anon,cgroup_anon,cgroup_shmem,cgroup_file_active,\
             cgroup_file_inactive,cgroup_kernel,cgroup_sock,cgroup_swap\n",
        );
        for s in samples {
            let r = &s.value;
            let opt = |v: Option<String>| v.unwrap_or_default();
            let bytes = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{:.4},{:.6},{},{},{},{},{},{},{},{},{:.3},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                s.t,
                s.read_s,
                r.rss,
                r.pss,
                r.pss_anon,
                r.uss,
                r.swap,
                r.vm_hwm,
                r.threads,
                r.fds,
                r.cpu_s,
                r.procs,
                opt(r.cgroup_mem.map(|v| v.to_string())),
                opt(r.cgroup_cpu_s.map(|v| format!("{v:.6}"))),
                r.vanished,
                bytes(r.group_unique),
                bytes(r.group_unique_anon),
                bytes(r.cgroup_anon),
                bytes(r.cgroup_shmem),
                bytes(r.cgroup_file_active),
                bytes(r.cgroup_file_inactive),
                bytes(r.cgroup_kernel),
                bytes(r.cgroup_sock),
                bytes(r.cgroup_swap),
            ));
        }
        out
    }
}

/// Reads a samples CSV back (for `report`).
pub fn parse_samples_csv(text: &str) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 14 {
            bail!(
                "samples CSV line {}: {} fields, expected 14",
                i + 1,
                f.len()
            );
        }
        let n = |k: usize| -> Result<f64> {
            f[k].parse::<f64>()
                .with_context(|| format!("line {} field {k}", i + 1))
        };
        // Columns past the first 14 were added later: absent in old files.
        let opt = |k: usize| -> Option<f64> {
            f.get(k)
                .filter(|v| !v.is_empty())
                .and_then(|v| v.parse().ok())
        };
        let bytes = |k: usize| opt(k).map(|v| v as u64);
        out.push(Sample {
            t: n(0)?,
            read_s: n(1)?,
            value: Reading {
                rss: n(2)? as u64,
                pss: n(3)? as u64,
                pss_anon: n(4)? as u64,
                uss: n(5)? as u64,
                swap: n(6)? as u64,
                vm_hwm: n(7)? as u64,
                threads: n(8)? as u32,
                fds: n(9)? as u32,
                cpu_s: n(10)?,
                procs: n(11)? as u32,
                cgroup_mem: opt(12).map(|v| v as u64),
                cgroup_cpu_s: opt(13),
                vanished: opt(14).unwrap_or(0.0) as u32,
                group_unique: bytes(15),
                group_unique_anon: bytes(16),
                cgroup_anon: bytes(17),
                cgroup_shmem: bytes(18),
                cgroup_file_active: bytes(19),
                cgroup_file_inactive: bytes(20),
                cgroup_kernel: bytes(21),
                cgroup_sock: bytes(22),
                cgroup_swap: bytes(23),
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64, uss: u64, cgroup: Option<u64>) -> Sample {
        Sample {
            t,
            read_s: 0.0001,
            value: Reading {
                rss: 10 << 20,
                pss: 9 << 20,
                pss_anon: 5 << 20,
                uss,
                swap: 0,
                vm_hwm: 11 << 20,
                threads: 3,
                fds: 4,
                cpu_s: 0.25 + t / 100.0,
                procs: 1,
                cgroup_mem: cgroup,
                cgroup_cpu_s: cgroup.map(|_| 0.5 + t / 100.0),
                ..Default::default()
            },
        }
    }

    #[test]
    fn csv_round_trips() {
        let s = [sample(1.5, 8 << 20, Some(99)), sample(1.6, 8 << 20, None)];
        let back = parse_samples_csv(&SamplesCsv.render(&s).unwrap()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].value, s[0].value);
        assert_eq!(back[1].value, s[1].value);
        let e = parse_samples_csv("h\n1,2\n").unwrap_err().to_string();
        assert!(e.contains("line 2: 2 fields, expected 14"), "{e}");
    }

    #[test]
    fn samples_csv_snapshot() {
        let s = [
            sample(0.1, 8 << 20, Some(12 << 20)),
            sample(0.2, (8 << 20) + 4096, None),
        ];
        insta::assert_snapshot!(SamplesCsv.render(&s).unwrap());
    }

    #[test]
    fn csv_round_trips_with_the_group_and_cgroup_columns() {
        let s = Sample {
            t: 1.5,
            read_s: 0.0001,
            value: Reading {
                rss: 10,
                pss: 9,
                uss: 8,
                threads: 3,
                fds: 4,
                cpu_s: 0.25,
                procs: 1,
                cgroup_mem: Some(99),
                vanished: 2,
                group_unique: Some(7 << 20),
                cgroup_shmem: Some(4096),
                ..Default::default()
            },
        };
        let back = parse_samples_csv(&samples_csv(&[s, s])).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].value, s.value);
        assert!(parse_samples_csv("h\n1,2\n").is_err());
        // A 14-column file from before the group and cgroup columns.
        let old = "h\n1.5,0.0001,10,9,0,8,0,0,3,4,0.25,1,99,\n";
        let back = parse_samples_csv(old).unwrap();
        assert_eq!(back[0].value.cgroup_mem, Some(99));
        assert_eq!(back[0].value.group_unique, None);
        assert_eq!(back[0].value.vanished, 0);
    }
}
