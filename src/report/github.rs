//! `--format github` (IN PROGRESS).
use std::io::{self, Write};

use super::Report;

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let _ = (report, out);
    Ok(())
}

pub fn markdown_summary(report: &Report<'_>) -> String {
    let _ = report;
    String::new()
}
