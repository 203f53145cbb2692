//! `runcost-groupmem`: group-unique memory of the PIDs on each stdin line,
//! one reply line each (protocol: [`runcost_groupmem::Reply`]). The
//! exec-stream sampler keeps one running in the target container, so a
//! read costs no new exec.

use runcost_groupmem::{cap_eff, parse_pids, read_group, GroupError, Reply};
use std::io::{BufRead, Write};

fn main() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let ready = Reply::Ready {
        cap_eff: cap_eff(&status).unwrap_or(0),
    };
    if writeln!(out, "{}", ready.to_line())
        .and_then(|_| out.flush())
        .is_err()
    {
        return;
    }
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        if line.trim() == "q" {
            return;
        }
        let reply = match parse_pids(&line) {
            Some(pids) => Reply::Read(read_group(&pids)),
            None => Reply::Read(Err(GroupError::Io(format!("malformed request {line:?}")))),
        };
        if writeln!(out, "{}", reply.to_line())
            .and_then(|_| out.flush())
            .is_err()
        {
            return;
        }
    }
}
