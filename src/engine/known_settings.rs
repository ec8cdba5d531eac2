//! The known injectors' settings for a run: their chart defaults, then the
//! configuration's `injectors:`, then their own objects among the inputs.

use crate::config::{self, Config};
use crate::injectors::known::istio_config;
use crate::injectors::known::settings::{
    KnownSettings, OtherSettings, linkerd_native_by_default, parse_minor, selectors,
};
use crate::model::Object;

/// Chart defaults, then the configuration, then the injectors' own
/// objects among `objects`.
pub fn known_settings(config: &Config, objects: &[Object]) -> KnownSettings {
    let mut settings = KnownSettings {
        kubernetes_version: config.kubernetes_version(),
        ..KnownSettings::default()
    };
    apply_config(&mut settings, &config.injectors);
    // The injectors' own objects (Istio's injector ConfigMap) over what is set.
    istio_config::apply(&mut settings.istio, objects);
    settings
}

fn apply_config(settings: &mut KnownSettings, injectors: &config::Injectors) {
    if let Some(istio) = &injectors.istio {
        let s = &mut settings.istio;
        if let Some(v) = istio.version.as_deref().and_then(parse_minor) {
            s.version = v;
        }
        if let Some(rev) = &istio.revision {
            s.revision = if rev == "default" {
                String::new()
            } else {
                rev.clone()
            };
        }
        if let Some(policy) = istio.policy {
            s.policy = match policy {
                config::IstioPolicy::Enabled => "enabled",
                config::IstioPolicy::Disabled => "disabled",
            }
            .into();
        }
        if !istio.never_inject_selector.is_empty() {
            s.never_inject_selector = selectors(&istio.never_inject_selector);
        }
        if !istio.always_inject_selector.is_empty() {
            s.always_inject_selector = selectors(&istio.always_inject_selector);
        }
        if let Some(b) = istio.enable_namespaces_by_default {
            s.enable_namespaces_by_default = b;
        }
        if let Some(cni) = istio.cni {
            s.cni = cni;
        }
        if let Some(native) = istio.native_sidecars {
            s.native_sidecars = match native {
                config::NativeSidecars::Fixed(b) => Some(b),
                config::NativeSidecars::Auto(_) => None,
            };
        }
        if let Some(image) = &istio.proxy_image {
            s.proxy_image = image.clone();
            s.proxy_init_image = image.clone();
        }
    }
    if let Some(linkerd) = &injectors.linkerd {
        let s = &mut settings.linkerd;
        if let Some(v) = &linkerd.version {
            s.version = v.clone();
            s.native_sidecars = linkerd_native_by_default(v);
        }
        if let Some(cni) = linkerd.cni {
            s.cni = cni;
        }
        if let Some(native) = linkerd.native_sidecars {
            s.native_sidecars = native;
        }
        if let Some(image) = &linkerd.proxy_image {
            s.proxy_image = image.clone();
        }
    }
    for (name, other) in [
        ("consul", &injectors.consul),
        ("vault", &injectors.vault),
        ("dapr", &injectors.dapr),
        ("kuma", &injectors.kuma),
        ("otel", &injectors.otel),
        ("osm", &injectors.osm),
        ("appmesh", &injectors.appmesh),
    ] {
        if let Some(other) = other {
            settings.others.insert(
                name,
                OtherSettings {
                    version: other.version.clone(),
                    image: other.image.clone(),
                },
            );
        }
    }
}
