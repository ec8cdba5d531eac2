//! The audit log: one JSON line per admission decision, on standard output
//! or in a file (`--audit-log`), apart from the human log on standard error.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

use super::admission::Record;

pub struct AuditLog {
    out: Mutex<Box<dyn Write + Send>>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(flatten)]
    record: &'a Record,
    latency_ms: f64,
}

impl AuditLog {
    pub fn new(out: Box<dyn Write + Send>) -> AuditLog {
        AuditLog {
            out: Mutex::new(out),
        }
    }

    pub fn write(&self, record: &Record, latency_seconds: f64) {
        let line = Line {
            time: jiff::Timestamp::now().to_string(),
            record,
            latency_ms: (latency_seconds * 1e6).round() / 1e3,
        };
        let Ok(mut text) = serde_json::to_vec(&line) else {
            return;
        };
        text.push(b'\n');
        if let Ok(mut out) = self.out.lock() {
            // A full disk must not stop admission: the line is lost, the
            // answer is not.
            let _ = out.write_all(&text).and_then(|()| out.flush());
        }
    }
}

/// The human log: one line on standard error, with the time.
pub fn log(message: impl std::fmt::Display) {
    eprintln!("{} {message}", jiff::Timestamp::now());
}
