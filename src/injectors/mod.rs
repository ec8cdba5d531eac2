//! Injectors: the repository's own (`own/`, defined by the
//! `kubectl-inject.dev` policies and templates) and, later, the known
//! injectors (Istio, Linkerd, …).

pub mod known;
pub mod own;
pub(crate) mod pod_lists;
pub mod webhooks;
