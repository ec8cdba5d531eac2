//! Istio's injector settings from an `istio-sidecar-injector` ConfigMap
//! among the inputs: its `config` key (policy, selectors, templates) and its
//! `values` key (the chart values the templates read). A ConfigMap for
//! another revision (`istio-sidecar-injector-<rev>`) only counts when it is
//! the configured revision's.

use serde_json::Value;

use super::settings::{IstioSettings, selectors};
use crate::model::Object;

/// The ConfigMap's name for `revision` (`""` is the default revision).
pub fn configmap_name(revision: &str) -> String {
    if revision.is_empty() || revision == "default" {
        "istio-sidecar-injector".into()
    } else {
        format!("istio-sidecar-injector-{revision}")
    }
}

/// Applies the settings of the first matching ConfigMap in `objects`.
pub fn apply(settings: &mut IstioSettings, objects: &[Object]) {
    let wanted = configmap_name(&settings.revision);
    let Some(object) = objects.iter().find(|o| {
        o.kind == "ConfigMap" && o.api_version == "v1" && o.name == wanted && !o.shadowed
    }) else {
        return;
    };
    let Some(data) = object.root.get("data") else {
        return;
    };
    // `values` first: `config` is what istiod actually reads for the policy
    // and selectors, so it wins where both say something.
    if let Some(values) = data
        .get_str("values")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
    {
        apply_values(settings, &values);
    }
    if let Some(text) = data.get_str("config")
        && let Some(config) = parse_yaml(text)
    {
        if is_bare_template(&config) {
            // The old inline format: the whole config is the sidecar template.
            settings
                .custom_templates
                .insert("sidecar".into(), text.to_owned());
        } else {
            apply_config(settings, &config);
        }
    }
    settings.source = Some((object.file, object.name_span()));
}

fn parse_yaml(text: &str) -> Option<Value> {
    let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
    parsed
        .documents
        .first()
        .map(|(_, root)| root.to_json())
        .filter(Value::is_object)
}

/// A config that is a pod template itself (`spec:`/`metadata:` at the top,
/// none of the config's own keys).
fn is_bare_template(config: &Value) -> bool {
    const CONFIG_KEYS: &[&str] = &[
        "policy",
        "templates",
        "template",
        "defaultTemplates",
        "neverInjectSelector",
        "alwaysInjectSelector",
        "injectedAnnotations",
    ];
    config
        .as_object()
        .is_some_and(|m| m.contains_key("spec") && !CONFIG_KEYS.iter().any(|k| m.contains_key(*k)))
}

/// The `config` key: `policy`, `neverInjectSelector`, `alwaysInjectSelector`,
/// `defaultTemplates`, `templates`.
pub fn apply_config(settings: &mut IstioSettings, config: &Value) {
    if let Some(policy) = config.get("policy").and_then(Value::as_str) {
        settings.policy = policy.to_owned();
    }
    if let Some(list) = config.get("neverInjectSelector").and_then(Value::as_array) {
        settings.never_inject_selector = selectors(list);
    }
    if let Some(list) = config.get("alwaysInjectSelector").and_then(Value::as_array) {
        settings.always_inject_selector = selectors(list);
    }
    if let Some(list) = string_list(config.get("defaultTemplates")).filter(|l| !l.is_empty()) {
        settings.default_templates = list;
    }
    add_templates(settings, config.get("templates"));
}

/// The `values` key (chart values as JSON).
pub fn apply_values(settings: &mut IstioSettings, values: &Value) {
    let at = |pointer: &str| values.pointer(pointer);
    let global = |key: &str| at(&format!("/global/{key}"));
    if let Some(rev) = at("/revision").and_then(Value::as_str) {
        settings.revision = if rev == "default" {
            String::new()
        } else {
            rev.into()
        };
    }
    if let Some(b) =
        at("/sidecarInjectorWebhook/enableNamespacesByDefault").and_then(Value::as_bool)
    {
        settings.enable_namespaces_by_default = b;
    }
    if let Some(list) = at("/sidecarInjectorWebhook/neverInjectSelector").and_then(Value::as_array)
    {
        settings.never_inject_selector = selectors(list);
    }
    if let Some(list) = at("/sidecarInjectorWebhook/alwaysInjectSelector").and_then(Value::as_array)
    {
        settings.always_inject_selector = selectors(list);
    }
    if let Some(list) =
        string_list(at("/sidecarInjectorWebhook/defaultTemplates")).filter(|l| !l.is_empty())
    {
        settings.default_templates = list;
    }
    add_templates(settings, at("/sidecarInjectorWebhook/templates"));
    if let Some(policy) = global("proxy/autoInject").and_then(Value::as_str) {
        settings.policy = policy.to_owned();
    }
    let cni = at("/pilot/cni/enabled")
        .or_else(|| at("/istio_cni/enabled"))
        .and_then(Value::as_bool);
    if let Some(cni) = cni {
        settings.cni = cni;
    }
    let hub = global("hub").and_then(Value::as_str).unwrap_or("");
    let tag = global("tag").map(scalar_text).unwrap_or_default();
    if let Some(image) = global("proxy/image").and_then(Value::as_str) {
        settings.proxy_image = image_ref(hub, image, &tag);
    }
    if let Some(image) = global("proxy_init/image").and_then(Value::as_str) {
        settings.proxy_init_image = image_ref(hub, image, &tag);
    }
    if let Some(policy) = global("imagePullPolicy")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        settings.image_pull_policy = Some(policy.into());
    }
    if let Some(secrets) = string_list(global("imagePullSecrets")) {
        settings.image_pull_secrets = secrets;
    }
    if let Some(b) = global("mountMtlsCerts").and_then(Value::as_bool) {
        settings.mount_mtls_certs = b;
    }
    if let Some(b) = global("proxy/holdApplicationUntilProxyStarts").and_then(Value::as_bool) {
        settings.hold_application_until_proxy_starts = b;
    }
    if let Some(port) = global("proxy/statusPort").and_then(Value::as_u64) {
        settings.status_port = u16::try_from(port).unwrap_or(settings.status_port);
    }
    if let Some(resources) = global("proxy/resources").filter(|r| r.is_object()) {
        settings.resources = resources.clone();
    }
}

/// `hub/image:tag`, unless `image` is already a full reference (Istio uses
/// an image containing `/` verbatim).
fn image_ref(hub: &str, image: &str, tag: &str) -> String {
    if image.contains('/') || hub.is_empty() {
        image.to_owned()
    } else if tag.is_empty() {
        format!("{hub}/{image}")
    } else {
        format!("{hub}/{image}:{tag}")
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn string_list(value: Option<&Value>) -> Option<Vec<String>> {
    let list = value?.as_array()?;
    Some(
        list.iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                // `imagePullSecrets` may be written as `{name: …}` objects.
                Value::Object(m) => m.get("name").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .collect(),
    )
}

fn add_templates(settings: &mut IstioSettings, templates: Option<&Value>) {
    let Some(map) = templates.and_then(Value::as_object) else {
        return;
    };
    for (name, text) in map {
        if let Some(text) = text.as_str() {
            settings
                .custom_templates
                .insert(name.clone(), text.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_set_images_cni_and_secrets() {
        let mut s = IstioSettings::default();
        apply_values(
            &mut s,
            &json!({
                "global": {"hub": "registry.istio.io/testing", "tag": "latest",
                           "proxy": {"image": "proxyv2", "statusPort": 123},
                           "proxy_init": {"image": "proxyv2"},
                           "imagePullSecrets": ["barSecret"], "mountMtlsCerts": true},
                "pilot": {"cni": {"enabled": true}},
                "revision": ""
            }),
        );
        assert_eq!(s.proxy_image, "registry.istio.io/testing/proxyv2:latest");
        assert!(s.cni && s.mount_mtls_certs);
        assert_eq!(s.image_pull_secrets, ["barSecret"]);
        assert_eq!(s.status_port, 123);
    }

    #[test]
    fn config_sets_policy_and_selectors() {
        let mut s = IstioSettings::default();
        apply_config(
            &mut s,
            &json!({"policy": "disabled",
                    "neverInjectSelector": [{"matchLabels": {"app": "x"}}],
                    "templates": {"custom": "spec: {}"}}),
        );
        assert_eq!(s.policy, "disabled");
        assert_eq!(s.never_inject_selector.len(), 1);
        assert!(s.custom_templates.contains_key("custom"));
    }
}
