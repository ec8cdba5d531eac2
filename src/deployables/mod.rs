//! Deployables: what is applied together.
//!
//! A GitOps repository holds several sets of objects, each applied to one
//! cluster as a whole: Kustomize roots, Helm charts, the paths Flux and
//! Argo CD objects point at, and plain files. This layer finds them, renders
//! them with the real tools, and maps every rendered object back to the
//! file and line that wrote it.

pub mod gitops;
pub mod kustomization;
pub mod layout;
pub mod names;
pub mod origin;
pub mod read;
pub mod render;
pub mod source_map;
