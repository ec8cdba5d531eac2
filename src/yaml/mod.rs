//! The span-aware YAML loader.
//!
//! A file is parsed once, with `granit-parser` (pure Rust, panic-free, fuzzed;
//! the parser under `serde-saphyr`, which kube uses), into a tree of [`Node`]s
//! whose every key and value knows its byte range in the file. Any field path
//! (a JSON-Schema instance path, an annotation key, a container entry) is then
//! resolved to an exact span with [`Node::lookup`].
//!
//! One malformed document does not stop the others: after a syntax error the
//! parser resumes at the next `---`. Resource limits ([`Limits`]) stop alias
//! bombs and runaway nesting with a [`Problem`] instead of exhausting memory
//! or the stack.

mod build;
mod field_path;
mod node;
pub mod pointer;

pub use build::{Limits, Parsed, Problem, ProblemKind, parse_stream};
pub use field_path::{FieldPath, Step};
pub use node::{Entry, Node, PathSegment, Value};
