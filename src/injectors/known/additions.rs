//! What a known injector adds to a pod once it has decided to inject: the
//! containers, init containers and volumes with their names, images, ports,
//! security settings and resources, the metadata it writes, and where in the
//! pod each piece lands. The facts live in `additions.yaml` (with sources);
//! this module only chooses among their variants (CNI, native sidecars,
//! interception mode, templates) and fills in values from pod annotations
//! and the injector's settings.

use serde_json::Value;

use crate::injectors::own::mutate::Added;

/// What one injector adds to one pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Additions {
    /// Init containers that go before the app's (`istio-init`, `linkerd-init`).
    pub init_containers: Vec<Value>,
    /// Native sidecars (`restartPolicy: Always`), in `initContainers` right
    /// after [`Additions::init_containers`].
    pub native_sidecars: Vec<Value>,
    /// Init containers that go after the app's (`vault-agent-init` unless
    /// `agent-init-first`).
    pub late_init_containers: Vec<Value>,
    /// Sidecars in `containers`: appended, or put first when
    /// [`Additions::containers_first`] (Istio's `holdApplicationUntilProxyStarts`).
    pub containers: Vec<Value>,
    pub containers_first: bool,
    pub volumes: Vec<Value>,
    /// Pod annotations and labels the injector writes (its status marker
    /// among them).
    pub annotations: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub image_pull_secrets: Vec<String>,
    /// App containers a template rewrites in place (Istio records them in
    /// its status annotation's `containers`).
    pub patched_containers: Vec<String>,
}

/// Where an added entry landed in the injected pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// `initContainers`, `containers` or `volumes`.
    pub list: &'static str,
    /// Its index in that list of the injected pod.
    pub index: usize,
}

/// The injected pod, the names of what was added, and where each added
/// entry landed.
#[derive(Debug, Clone)]
pub struct Applied {
    pub pod: Value,
    pub added: Added,
    pub placed: Vec<Placed>,
}
