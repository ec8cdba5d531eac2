//! Deployables: what is applied together.
//!
//! A GitOps repository holds several sets of objects, each applied to one
//! cluster as a whole: Kustomize roots, Helm charts, the paths Flux and
//! Argo CD objects point at, and plain files. This layer finds them, renders
//! them with the real tools, groups them into environments, and maps every
//! rendered object back to the file and line that wrote it.
//!
//! - [`read`] drives it: discover, [`layout`] (roots, charts, plain files),
//!   load, [`render`] in parallel, follow [`gitops`] paths, then `group`
//!   into deployables and environments; `diagnose` notes the
//!   [`problem`]s of the deployables themselves (a build that fails, a
//!   remote base…), as data the rules turn into findings.
//! - [`kustomization`] reads a kustomization for what this needs of it;
//!   [`origin`] reads (and cuts) what Kustomize says of each object's origin.
//! - [`source_map`] maps a span in a rendering to the patch, transformer
//!   line, resource file or Helm template that wrote it; [`names`] names
//!   those files as reports name the rest.

mod diagnose;
pub mod gitops;
mod group;
pub mod kustomization;
pub mod layout;
pub mod names;
pub mod origin;
pub mod problem;
pub mod read;
pub mod render;
pub mod source_map;

pub use problem::{Blocker, Problem, ProblemKind};
