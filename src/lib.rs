//! kubectl-inject: lint, simulate and render Kubernetes sidecar injection.
//!
//! Data flows one way:
//!
//! ```text
//! source ─► yaml ─► model ─► rules ─► report
//! (files,   (nodes   (objects) (diagnostics) (human, json,
//!  spans)    with spans)                       sarif, github)
//! ```
//!
//! `load` and `lint` drive the pipeline; `cli` is the thin layer on top.

pub mod baseline;
pub mod blast_radius;
pub mod cli;
pub mod config;
pub mod deployables;
pub mod diagnostic;
pub mod diff;
pub mod engine;
pub mod golden;
pub mod hash;
pub mod injectors;
pub mod lint;
pub mod live;
pub mod load;
pub mod model;
pub mod render;
pub mod report;
pub mod rules;
pub mod schema;
pub mod severity;
pub mod source;
pub mod suppress;
pub mod webhook;
pub mod whole_file;
pub mod words;
pub mod yaml;
