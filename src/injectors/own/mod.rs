//! The repository's own injector: `SidecarTemplate`s (versions, inheritance,
//! parameters) and the policies that choose them.

pub mod catalog;
pub mod decide;
pub mod interpolate;
pub mod mutate;
pub mod policy;
pub mod template;

pub use catalog::{Catalog, ResolvedTemplate};
pub use template::{Parameter, Template, TemplateRef};

/// The name of the repository's own injector in reports.
pub const OWN_INJECTOR: &str = "kubectl-inject";
