//! The audit log: one JSON line per admission decision, on standard output
//! or in a file (`--audit-log`), apart from the human log on standard error.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

use super::review::Record;

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
            record: &clipped(record),
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

/// The longest name (uid, namespace, pod name…) and text (a reason, the
/// message) a line copies, in bytes, and the most reasons: a request is
/// not checked before the webhook sees it, and one pod named with a
/// megabyte must not write a megabyte per decision.
const NAME_BYTES: usize = 256;
const TEXT_BYTES: usize = 1024;
const REASONS: usize = 16;

/// `record` with every string it copied from the request bounded (each
/// field named: a new one does not slip through).
fn clipped(record: &Record) -> Record {
    let name = |text: &String| clip(text, NAME_BYTES);
    let text = |text: &String| clip(text, TEXT_BYTES);
    let mut reasons: Vec<String> = record.reasons.iter().take(REASONS).map(text).collect();
    if record.reasons.len() > REASONS {
        reasons.push(format!("…(+{} more)", record.reasons.len() - REASONS));
    }
    Record {
        endpoint: record.endpoint,
        uid: name(&record.uid),
        operation: name(&record.operation),
        kind: name(&record.kind),
        namespace: name(&record.namespace),
        name: name(&record.name),
        workload: record.workload.as_ref().map(name),
        dry_run: record.dry_run,
        outcome: record.outcome,
        allowed: record.allowed,
        patched: record.patched,
        policy: record.policy.as_ref().map(name),
        template: record.template.as_ref().map(name),
        template_version: record.template_version.as_ref().map(name),
        reasons,
        cache: record.cache,
        message: record.message.as_ref().map(text),
    }
}

/// `text`'s first `max` bytes at most, cut at a character boundary and
/// marked with how much was left out; control characters but newlines
/// and tabs become U+FFFD (a line read with `jq -r` moves no cursor).
fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: String = text[..end]
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    if end < text.len() {
        out.push_str(&format!("…(+{} bytes)", text.len() - end));
    }
    out
}

/// The human log: one line on standard error, with the time.
pub fn log(message: impl std::fmt::Display) {
    eprintln!("{} {message}", jiff::Timestamp::now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_character_boundary_and_says_how_much() {
        assert_eq!(clip("web-7d9f", 256), "web-7d9f");
        assert_eq!(clip("aéb", 2), "a…(+3 bytes)");
        assert_eq!(clip("x\u{1b}[2J\ny", 256), "x\u{fffd}[2J\ny");
        let long = "ü".repeat(1000);
        let clipped = clip(&long, NAME_BYTES);
        assert!(clipped.starts_with(&"ü".repeat(128)));
        assert!(clipped.ends_with("…(+1744 bytes)"), "{clipped}");
    }
}
