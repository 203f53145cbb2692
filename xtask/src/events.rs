//! Lanes emit events; reporters turn them into progress bars (TTY) or plain
//! lines. Lanes never print.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// The run directory exists and its record says `partial`.
    RunStarted {
        run: String,
        dir: String,
    },
    /// The final record is about to be written.
    RunFinished {
        status: crate::results::RunStatus,
    },
    LaneStarted {
        lane: String,
        cells: usize,
    },
    CellStarted {
        cell: String,
        index: usize,
        of: usize,
    },
    CellReady {
        cell: String,
        after_s: f64,
    },
    Steady {
        cell: String,
        after_s: f64,
    },
    NotSteady {
        cell: String,
        after_s: f64,
    },
    Measuring {
        cell: String,
        window_s: f64,
    },
    /// The cell's project is down (on every path, before `CellDone`).
    TornDown {
        cell: String,
    },
    CellDone {
        cell: String,
        ok: bool,
        detail: String,
    },
    Note(String),
}

pub trait Events: Send + Sync {
    fn emit(&self, event: Event);
}

/// Progress on stderr: a spinner on a TTY, one line per event otherwise.
pub struct Reporter {
    quiet: bool,
    bar: Option<ProgressBar>,
    last: Mutex<String>,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                    .expect("static template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Reporter {
            quiet,
            bar,
            last: Mutex::new(String::new()),
        }
    }

    fn line(&self, msg: String) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => {
                b.println(&msg);
                b.set_message(msg);
            }
            None => eprintln!("runcost: {msg}"),
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = String::new();
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Events for Reporter {
    fn emit(&self, event: Event) {
        let msg = match event {
            Event::RunStarted { run, dir } => format!("run {run} → {dir}"),
            // The command prints the outcome itself.
            Event::RunFinished { .. } => return,
            Event::LaneStarted { lane, cells } => format!("{lane}: {cells} cell(s)"),
            Event::CellStarted { cell, index, of } => format!("[{index}/{of}] {cell}: starting"),
            Event::CellReady { cell, after_s } => format!("{cell}: ready after {after_s:.1} s"),
            Event::Steady { cell, after_s } => {
                format!("{cell}: steady after {after_s:.1} s of warm-up")
            }
            Event::NotSteady { cell, after_s } => {
                format!("{cell}: NOT steady after {after_s:.0} s; measuring anyway, reported as not_steady")
            }
            Event::Measuring { cell, window_s } => format!("{cell}: measuring {window_s:.0} s"),
            // Progress says nothing new here; the event is for recorders.
            Event::TornDown { .. } => return,
            Event::CellDone { cell, ok, detail } => {
                format!("{cell}: {} {detail}", if ok { "done" } else { "FAILED" })
            }
            Event::Note(n) => n,
        };
        self.line(msg);
    }
}
