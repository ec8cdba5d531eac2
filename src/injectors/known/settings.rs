//! The known injectors' settings for one run: each injector's chart
//! defaults, overridden by the `injectors:` section of `.kubectl-inject.yaml`,
//! overridden in turn by the injector's own objects among the inputs (Istio's
//! `istio-sidecar-injector` ConfigMap).

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::Value;

use crate::model::selector::LabelSelector;
use crate::source::FileId;

/// The newest Istio minor version the tool knows (value parsing, defaults).
pub const NEWEST_ISTIO: (u64, u64) = (1, 28);

/// The newest Linkerd release the tool knows (the linkerd/linkerd2 commit the
/// data files cite, b24cd40).
pub const NEWEST_LINKERD: &str = "edge-26.8.3";

/// Whether a Linkerd version injects the proxy as a native sidecar unless
/// told otherwise: stable/enterprise 2.20 and later, and the edge releases
/// of 2026 (edge-26.8, the release the data files cite, does; the exact
/// first edge release is an inference).
pub fn linkerd_native_by_default(version: &str) -> bool {
    let version = version.trim();
    if let Some(edge) = version.strip_prefix("edge-") {
        return parse_minor(edge).is_some_and(|(year, _)| year >= 26);
    }
    let release = version
        .trim_start_matches("stable-")
        .trim_start_matches("enterprise-");
    parse_minor(release).is_some_and(|v| v >= (2, 20))
}

/// Istio's injector settings (`values` and `config` of its ConfigMap).
#[derive(Debug, Clone)]
pub struct IstioSettings {
    /// Decides how `sidecar.istio.io/inject` is parsed (1.27 changed it).
    pub version: (u64, u64),
    /// The revision this injector serves (`""` is the default revision).
    pub revision: String,
    /// `enabled`, `disabled`, or anything else (which injects nothing).
    pub policy: String,
    pub never_inject_selector: Vec<LabelSelector>,
    pub always_inject_selector: Vec<LabelSelector>,
    pub enable_namespaces_by_default: bool,
    /// Istio CNI: `istio-validation` instead of `istio-init`.
    pub cni: bool,
    /// `Some(true|false)`, or `None` for `auto` (decided by the Kubernetes
    /// version: native from kubelet 1.33).
    pub native_sidecars: Option<bool>,
    /// The proxy image (`hub/image:tag`), and the init container's.
    pub proxy_image: String,
    pub proxy_init_image: String,
    pub image_pull_policy: Option<String>,
    pub image_pull_secrets: Vec<String>,
    /// `global.mountMtlsCerts`: adds the `istio-certs` volume.
    pub mount_mtls_certs: bool,
    pub hold_application_until_proxy_starts: bool,
    /// `REDIRECT`, `TPROXY` or `NONE` (mesh config default).
    pub interception_mode: String,
    pub status_port: u16,
    /// `global.proxy.resources` (requests and limits), used unless a pod
    /// annotation sets any of the four resource annotations.
    pub resources: Value,
    /// Templates used when the pod names none (`defaultTemplates`).
    pub default_templates: Vec<String>,
    /// Extra templates by name (ConfigMap `templates`, values
    /// `sidecarInjectorWebhook.templates`), as Go template text.
    pub custom_templates: BTreeMap<String, String>,
    /// Where these settings were read from, when an input object set them.
    pub source: Option<(FileId, Range<usize>)>,
}

impl Default for IstioSettings {
    fn default() -> Self {
        IstioSettings {
            version: NEWEST_ISTIO,
            revision: String::new(),
            policy: "enabled".into(),
            never_inject_selector: Vec::new(),
            always_inject_selector: Vec::new(),
            enable_namespaces_by_default: false,
            cni: false,
            native_sidecars: None,
            proxy_image: "docker.io/istio/proxyv2:1.28.0".into(),
            proxy_init_image: "docker.io/istio/proxyv2:1.28.0".into(),
            image_pull_policy: None,
            image_pull_secrets: Vec::new(),
            mount_mtls_certs: false,
            hold_application_until_proxy_starts: false,
            interception_mode: "REDIRECT".into(),
            status_port: 15020,
            resources: serde_json::json!({
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": "2000m", "memory": "1024Mi"}
            }),
            default_templates: vec!["sidecar".into()],
            custom_templates: BTreeMap::new(),
            source: None,
        }
    }
}

/// Linkerd's proxy injector settings.
#[derive(Debug, Clone)]
pub struct LinkerdSettings {
    pub version: String,
    /// Linkerd CNI: no `linkerd-init`.
    pub cni: bool,
    /// The proxy as a native sidecar (`proxy.nativeSidecar`).
    pub native_sidecars: bool,
    pub proxy_image: String,
    pub proxy_init_image: String,
    pub debug_image: String,
    pub proxy_uid: i64,
    /// `-1` (the chart default): no `runAsGroup`.
    pub proxy_gid: i64,
    pub inbound_port: u16,
    pub outbound_port: u16,
    pub admin_port: u16,
    pub control_port: u16,
    /// Token projection; with it off, `automountServiceAccountToken: false`
    /// pods are skipped.
    pub token_projection: bool,
}

impl Default for LinkerdSettings {
    fn default() -> Self {
        LinkerdSettings {
            version: NEWEST_LINKERD.into(),
            cni: false,
            // Native by default as of Linkerd 2.20 (proxy-injection docs).
            native_sidecars: true,
            proxy_image: "cr.l5d.io/linkerd/proxy".into(),
            // Empty: the proxy image runs the init (edge-26 goldens).
            proxy_init_image: String::new(),
            debug_image: "cr.l5d.io/linkerd/debug".into(),
            proxy_uid: 2102,
            proxy_gid: -1,
            inbound_port: 4143,
            outbound_port: 4140,
            admin_port: 4191,
            control_port: 4190,
            token_projection: true,
        }
    }
}

/// Version and image of one of the other injectors.
#[derive(Debug, Clone, Default)]
pub struct OtherSettings {
    pub version: Option<String>,
    pub image: Option<String>,
}

/// Every known injector's settings.
#[derive(Debug, Clone, Default)]
pub struct KnownSettings {
    pub istio: IstioSettings,
    pub linkerd: LinkerdSettings,
    /// `consul`, `vault`, `dapr`, `kuma`, `otel`, `osm`, `appmesh`.
    pub others: BTreeMap<&'static str, OtherSettings>,
    /// `kubernetesVersion` of the configuration (native sidecars, `auto`).
    pub kubernetes_version: Option<(u64, u64)>,
}

impl KnownSettings {
    /// Whether Istio injects its proxy as a native sidecar for a pod whose
    /// `sidecar.istio.io/nativeSidecar` annotation is `annotation`.
    pub fn istio_native(&self, annotation: Option<&str>) -> bool {
        match annotation {
            Some("true") => return true,
            Some("false") => return false,
            _ => {}
        }
        match self.istio.native_sidecars {
            Some(fixed) => fixed,
            // `auto`: every node's kubelet at 1.33 or newer; with no
            // configured version, assume a current cluster.
            None => self.kubernetes_version.is_none_or(|v| v >= (1, 33)),
        }
    }
}

/// `"1.28"`, `"1.28.0"`, `"v1.27.3"` → (1, 28).
pub fn parse_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

/// Label selectors from JSON, skipping malformed ones (Istio skips them too).
pub fn selectors(values: &[Value]) -> Vec<LabelSelector> {
    values.iter().filter_map(LabelSelector::from_json).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_to_major_minor() {
        assert_eq!(parse_minor("1.28"), Some((1, 28)));
        assert_eq!(parse_minor("v1.27.3"), Some((1, 27)));
        assert_eq!(parse_minor("1.26.0-beta.1"), Some((1, 26)));
        assert_eq!(parse_minor("stable"), None);
    }

    #[test]
    fn linkerd_goes_native_with_2_20() {
        assert!(linkerd_native_by_default("edge-26.8.3"));
        assert!(linkerd_native_by_default("stable-2.20.0"));
        assert!(!linkerd_native_by_default("stable-2.14"));
        assert!(!linkerd_native_by_default("edge-24.11.8"));
    }
}
