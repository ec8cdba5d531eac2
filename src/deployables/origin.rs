//! Origins of rendered objects (temporary stub; replaced by the real module).
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Transformation {
    pub configured_in: PathBuf,
    pub kind: String,
}

#[derive(Debug, Clone, Default)]
pub struct DocumentOrigin {
    pub path: Option<PathBuf>,
    pub repo: Option<String>,
    pub git_ref: Option<String>,
    pub configured_in: Option<PathBuf>,
    pub configured_by: Option<String>,
    pub transformations: Vec<Transformation>,
}

pub struct Stripped {
    pub text: String,
    pub origins: Vec<(usize, DocumentOrigin)>,
}

pub fn strip_origins(rendered: &str, _base: &Path) -> Stripped {
    Stripped {
        text: rendered.to_owned(),
        origins: Vec::new(),
    }
}

pub fn helm_sources(_text: &str) -> Vec<(usize, String)> {
    Vec::new()
}
