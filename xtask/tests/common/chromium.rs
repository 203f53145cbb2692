//! Headless Chromium (Debian's `chromium`) driven over the DevTools
//! protocol on `--remote-debugging-pipe` (commands on fd 3, replies and
//! events on fd 4, each message ending in a NUL byte): no WebDriver, no
//! new dependency. It loads a page, collects every error the page's
//! console would show — uncaught exceptions (`Runtime.exceptionThrown`),
//! `console.error`/`console.assert` (`Runtime.consoleAPICalled`) and
//! browser-side errors such as a resource that fails to load
//! (`Log.entryAdded`, level error) — and evaluates expressions in it.
//! Chromium's `--enable-logging=stderr` shows the first two but not a
//! failed image, which is why the protocol is used.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long one protocol round trip may take before the test gives up (a
/// hang guard on a loaded machine, not a measured timing).
const PATIENCE: Duration = Duration::from_secs(120);

pub struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    messages: Receiver<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// A loaded page: its session, and the errors its console showed.
pub struct Page {
    session: String,
    pub errors: Vec<String>,
}

impl Browser {
    pub fn start() -> Browser {
        let (cmd_read, cmd_write) = std::io::pipe().expect("pipe");
        let (out_read, out_write) = std::io::pipe().expect("pipe");
        let cmd_fd = OwnedFd::from(cmd_read);
        let out_fd = OwnedFd::from(out_write);
        let (a, b) = (cmd_fd.as_raw_fd(), out_fd.as_raw_fd());
        let profile = tempfile::tempdir().expect("profile dir");
        let mut c = Command::new("chromium");
        c.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls
        // (fcntl, dup2). The pipes are close-on-exec; moving them above 10
        // first keeps dup2 from being a no-op on an fd already numbered 3 or 4
        // (dup2 clears close-on-exec on its target).
        unsafe {
            c.pre_exec(move || {
                let hi_a = nix::libc::fcntl(a, nix::libc::F_DUPFD_CLOEXEC, 10);
                let hi_b = nix::libc::fcntl(b, nix::libc::F_DUPFD_CLOEXEC, 10);
                if hi_a < 0
                    || hi_b < 0
                    || nix::libc::dup2(hi_a, 3) < 0
                    || nix::libc::dup2(hi_b, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c
            .spawn()
            .expect("start chromium (Debian package `chromium`; `cargo xtask setup` installs it)");
        drop(cmd_fd);
        drop(out_fd);
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut r = out_read;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                let n = match r.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|&c| c == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&msg[..msg.len() - 1]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            commands: cmd_write,
            messages,
            next_id: 0,
            _profile: profile,
        }
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut m = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = session {
            m["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&m).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).expect("write to chromium");
        self.next_id
    }

    fn recv(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("chromium did not answer in {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("chromium closed the pipe"),
        }
    }

    /// Sends a command and returns its result; events that arrive first
    /// go to `errors` when they are console errors.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        errors: &mut Vec<String>,
    ) -> Value {
        let id = self.send(session, method, params);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let m = self.recv(deadline);
            if m["id"].as_u64() == Some(id) {
                if let Some(e) = m.get("error") {
                    panic!("{method}: {e}");
                }
                return m["result"].clone();
            }
            collect_error(&m, errors);
        }
    }

    /// Opens `url` in a new tab and waits for its load event (images
    /// included); every console error up to then is in `Page::errors`.
    pub fn load(&mut self, url: &str) -> Page {
        let mut errors = Vec::new();
        let target = self.call(
            None,
            "Target.createTarget",
            json!({"url": "about:blank"}),
            &mut errors,
        )["targetId"]
            .as_str()
            .expect("targetId")
            .to_string();
        let session = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
            &mut errors,
        )["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            self.call(Some(&session), domain, json!({}), &mut errors);
        }
        let nav = self.call(
            Some(&session),
            "Page.navigate",
            json!({"url": url}),
            &mut errors,
        );
        assert!(nav.get("errorText").is_none(), "navigate {url}: {nav}");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let m = self.recv(deadline);
            collect_error(&m, &mut errors);
            if m["method"] == "Page.loadEventFired" && m["sessionId"] == json!(session) {
                break;
            }
        }
        Page { session, errors }
    }

    /// Evaluates `expr` in the page and returns its value as JSON.
    pub fn eval(&mut self, page: &mut Page, expr: &str) -> Value {
        let session = page.session.clone();
        let r = self.call(
            Some(&session),
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
            &mut page.errors,
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("evaluate `{expr}`: {e}");
        }
        r["result"]["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.send(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a console error event, if `m` is one.
fn collect_error(m: &Value, errors: &mut Vec<String>) {
    let p = &m["params"];
    match m["method"].as_str() {
        Some("Runtime.exceptionThrown") => {
            let d = &p["exceptionDetails"];
            errors.push(format!(
                "exception: {} {}",
                d["text"].as_str().unwrap_or(""),
                d["exception"]["description"].as_str().unwrap_or("")
            ));
        }
        Some("Runtime.consoleAPICalled")
            if matches!(p["type"].as_str(), Some("error" | "assert")) =>
        {
            errors.push(format!("console.{}: {}", p["type"], p["args"]));
        }
        Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
            errors.push(format!(
                "{}: {} ({})",
                p["entry"]["source"].as_str().unwrap_or(""),
                p["entry"]["text"].as_str().unwrap_or(""),
                p["entry"]["url"].as_str().unwrap_or("")
            ));
        }
        _ => {}
    }
}
