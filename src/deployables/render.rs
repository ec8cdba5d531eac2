//! Running the real renderers (temporary stub; replaced by the real module).
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub enum KustomizeProgram {
    Standalone(OsString),
    Kubectl(OsString),
}

pub struct Renderers {
    pub kustomize: Vec<KustomizeProgram>,
    pub helm: OsString,
    pub timeout: Duration,
}

impl Default for Renderers {
    fn default() -> Self {
        Renderers {
            kustomize: vec![
                KustomizeProgram::Standalone("kustomize".into()),
                KustomizeProgram::Kubectl("kubectl".into()),
            ],
            helm: "helm".into(),
            timeout: Duration::from_secs(60),
        }
    }
}

pub struct Rendered {
    pub text: String,
    pub program: String,
    pub wrapper_dir: Option<PathBuf>,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum RenderError {
    Missing { tried: Vec<String> },
    Failed { program: String, message: String },
    TimedOut { program: String, after: Duration },
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

pub fn kustomize_build(_renderers: &Renderers, _root: &Path) -> Result<Rendered, RenderError> {
    Err(RenderError::Missing { tried: Vec::new() })
}

pub fn helm_template(
    _renderers: &Renderers,
    _chart: &Path,
    _release: &str,
    _namespace: Option<&str>,
    _values: &[PathBuf],
) -> Result<Rendered, RenderError> {
    Err(RenderError::Missing { tried: Vec::new() })
}
