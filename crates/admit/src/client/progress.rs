//! Progress of long client work on stderr (bulk imports, backfills): a line per step at most
//! once a second or every tenth of the way, and always at the end; on a terminal the line is
//! rewritten in place.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

/// Below this many items the work is quick: nothing is shown.
const QUIET_BELOW: usize = 100;

pub(crate) struct Progress {
    label: String,
    total: usize,
    done: usize,
    last: Option<Instant>,
    last_tenth: usize,
    tty: bool,
}

impl Progress {
    pub(crate) fn new(label: impl Into<String>, total: usize) -> Self {
        Progress {
            label: label.into(),
            total,
            done: 0,
            last: None,
            last_tenth: 0,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// `n` more items done.
    pub(crate) fn advance(&mut self, n: usize) {
        self.done = (self.done + n).min(self.total);
        if self.total < QUIET_BELOW {
            return;
        }
        let tenth = self.done * 10 / self.total;
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due || tenth > self.last_tenth || self.done == self.total {
            self.last = Some(Instant::now());
            self.last_tenth = tenth;
            let line = format!(
                "{}: {}/{} ({}%)",
                self.label,
                self.done,
                self.total,
                self.done * 100 / self.total
            );
            let mut err = std::io::stderr().lock();
            let _ = if self.tty {
                let end = if self.done == self.total { "\n" } else { "" };
                write!(err, "\r{line}{end}")
            } else {
                writeln!(err, "{line}")
            };
        }
    }
}
