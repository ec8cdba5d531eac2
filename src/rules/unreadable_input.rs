//! INJ006: an input that could not be read at all.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ006",
    name: "unreadable-input",
    severity: Severity::Error,
    summary: "an input file that could not be read (too large, unreadable, a symlink loop or a symlink out of the paths given)",
    explain: include_str!("unreadable_input.md"),
};

/// An input the walk of the paths did not take (`message` says why).
pub fn not_walked(file: FileId, message: &str) -> Diagnostic {
    new(
        file,
        message,
        "fix or remove the path, or list it under `ignore` in .kubectl-inject.yaml",
    )
}

/// A file whose reading failed with the I/O error `error`.
pub fn unreadable(file: FileId, error: &str) -> Diagnostic {
    new(file, error, "check that the file exists and is readable")
}

/// A file of `size` bytes, over the limit of `limit`.
pub fn too_large(file: FileId, size: u64, limit: u64) -> Diagnostic {
    new(
        file,
        format!(
            "file is {} bytes, over the limit of {limit} bytes; it is not checked",
            size
        ),
        "split the file, or raise the limit with --max-file-size if it really is one manifest stream",
    )
}

/// `file` is a placeholder source (empty text) named after the path.
fn new(file: FileId, message: impl Into<String>, help: &str) -> Diagnostic {
    Diagnostic::new(&RULE, message).at(file, 0..0).help(help)
}
