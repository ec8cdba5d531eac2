//! What the injected-pod rules (INJ3xx) read: does the pod still pass the
//! namespace's rules once the sidecars are in? Each of those rules (listed
//! in [`super::INJECTED_POD_RULES`]) reads a [`CheckInput`] and returns
//! diagnostics; none of them walks files or prints.
//!
//! The injected entries are found by position: the mutation puts the
//! template's init containers first in `initContainers` (then its sidecars
//! when they are native), its sidecars last in `containers` and its volumes
//! last in `volumes`, in the template's order (see `mutate::inject`). So each
//! injected entry is known both as it lands in the pod (interpolated) and by
//! its index in the resolved template, which the catalogue maps to the file
//! that defines it.

use std::ops::Range;

use serde_json::Value;

use crate::diagnostic::{Diagnostic, ObjectRef};
use crate::injectors::known::additions::Placed;
use crate::injectors::own::catalog::{Catalog, ResolvedTemplate};
use crate::injectors::own::mutate::{Added, STATUS_ANNOTATION};
use crate::injectors::own::template::Section;
use crate::model::Object;
use crate::model::selector::Labels;
use crate::model::workload::Workload;
use crate::source::FileId;

/// Where the injected entries come from.
#[derive(Clone, Copy)]
pub enum Origin<'a> {
    /// The repository's own injector: a resolved template, whose entries
    /// the catalogue maps back to the files that define them.
    Template {
        catalog: &'a Catalog,
        template: &'a ResolvedTemplate,
    },
    /// A known injector (Istio, Linkerd, …): its entries have no file of
    /// their own, so findings point at what asked for the injection.
    Known {
        /// Id (`istio`).
        injector: &'static str,
        /// Human name (`Istio`).
        display: &'a str,
        /// Where each added entry landed in the injected pod.
        placed: &'a [Placed],
        /// The workload's key that triggered the injection (pointer from the
        /// root of the object holding the pod template), if any.
        trigger: Option<&'a str>,
    },
}

/// Everything the post-injection checks of one workload may read.
pub struct CheckInput<'a> {
    pub workload: &'a Workload<'a>,
    /// Every object of the run (ResourceQuotas and LimitRanges among them).
    pub objects: &'a [Object],
    /// Indices in `objects` of the LimitRanges and ResourceQuotas (found
    /// once per run: scanning every object per injected pod is quadratic).
    pub limit_objects: &'a [usize],
    /// Labels of the workload's namespace (Pod Security levels).
    pub namespace_labels: &'a Labels,
    pub origin: Origin<'a>,
    /// The pod template before and after injection (`metadata`, `spec`).
    pub pod_before: &'a Value,
    pub pod_after: &'a Value,
    pub added: &'a Added,
    /// The configured Kubernetes version (`kubernetesVersion`), major and minor.
    pub kubernetes_version: Option<(u64, u64)>,
}

/// One entry the injection added, as it lands in the pod.
pub(crate) struct InjectedEntry<'a> {
    /// The template section it comes from.
    pub section: Section,
    /// Its index in that section of the resolved template.
    pub index: usize,
    /// The pod list it lands in (`containers`, `initContainers`, `volumes`).
    pub pod_list: &'static str,
    /// The entry, interpolated.
    pub value: &'a Value,
}

impl InjectedEntry<'_> {
    pub fn name(&self) -> &str {
        self.value.get("name").and_then(Value::as_str).unwrap_or("")
    }

    /// A JSON pointer into the resolved template (for [`Catalog::source`]).
    pub fn template_pointer(&self, tail: &str) -> String {
        format!("/{}/{}{tail}", self.section.key(), self.index)
    }

    /// Whether it runs beside the app (a sidecar, native or not).
    pub fn long_running(&self) -> bool {
        match self.pod_list {
            "containers" => true,
            "initContainers" => {
                self.value.get("restartPolicy").and_then(Value::as_str) == Some("Always")
            }
            _ => false,
        }
    }

    pub fn is_container(&self) -> bool {
        self.section != Section::Volumes
    }
}

fn pod_list<'a>(pod: &'a Value, list: &str) -> &'a [Value] {
    pod.get("spec")
        .and_then(|s| s.get(list))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

impl<'a> CheckInput<'a> {
    /// Every entry the injection added, containers (init first) then volumes.
    pub(crate) fn injected(&self) -> Vec<InjectedEntry<'a>> {
        let t = match self.origin {
            Origin::Template { template, .. } => template,
            Origin::Known { placed, .. } => return self.injected_known(placed),
        };
        let mut out = Vec::new();
        let init = pod_list(self.pod_after, "initContainers");
        let n_init = t.init_containers.len();
        for index in 0..n_init {
            if let Some(value) = init.get(index) {
                out.push(InjectedEntry {
                    section: Section::InitContainers,
                    index,
                    pod_list: "initContainers",
                    value,
                });
            }
        }
        let n = t.containers.len();
        let (list, start, pod_list_name) = if t.native_sidecar {
            (init, n_init, "initContainers")
        } else {
            let c = pod_list(self.pod_after, "containers");
            (c, c.len().saturating_sub(n), "containers")
        };
        for index in 0..n {
            if let Some(value) = list.get(start + index) {
                out.push(InjectedEntry {
                    section: Section::Containers,
                    index,
                    pod_list: pod_list_name,
                    value,
                });
            }
        }
        let volumes = pod_list(self.pod_after, "volumes");
        let start = volumes.len().saturating_sub(t.volumes.len());
        for index in 0..t.volumes.len() {
            if let Some(value) = volumes.get(start + index) {
                out.push(InjectedEntry {
                    section: Section::Volumes,
                    index,
                    pod_list: "volumes",
                    value,
                });
            }
        }
        out
    }

    /// A known injector's entries, in the order they were placed.
    fn injected_known(&self, placed: &[Placed]) -> Vec<InjectedEntry<'a>> {
        let mut counts = [0usize; 3];
        let mut out: Vec<InjectedEntry<'a>> = placed
            .iter()
            .filter_map(|p| {
                let value = pod_list(self.pod_after, p.list).get(p.index)?;
                let section = match p.list {
                    "volumes" => Section::Volumes,
                    _ if value.get("restartPolicy").and_then(Value::as_str) == Some("Always") => {
                        Section::Containers
                    }
                    "initContainers" => Section::InitContainers,
                    _ => Section::Containers,
                };
                let n = &mut counts[section as usize];
                *n += 1;
                Some(InjectedEntry {
                    section,
                    index: *n - 1,
                    pod_list: p.list,
                    value,
                })
            })
            .collect();
        out.sort_by_key(|e| e.section == Section::Volumes);
        out
    }

    /// What injected the entries: `envoy-proxy@1.4.0`, `Istio`.
    pub(crate) fn origin_name(&self) -> String {
        match self.origin {
            Origin::Template { template, .. } => template.id(),
            Origin::Known { display, .. } => display.to_owned(),
        }
    }

    /// The workload's own entries of a pod list (after undoing an earlier
    /// injection), with their pointer in the workload's pod node.
    pub(crate) fn own_entries(&self, list: &str) -> Vec<(String, &'a Value)> {
        let all = pod_list(self.pod_after, list);
        let injected = self.injected();
        let ours: Vec<*const Value> = injected
            .iter()
            .filter(|e| e.pod_list == list)
            .map(|e| e.value as *const Value)
            .collect();
        all.iter()
            .filter(|v| !ours.contains(&(*v as *const Value)))
            .filter_map(|v| {
                let name = v.get("name").and_then(Value::as_str)?;
                let k = self.own_index(list, name)?;
                Some((format!("{}/spec/{list}/{k}", self.workload.pod_path), v))
            })
            .collect()
    }

    /// Index of the workload's own entry `name` in its pod list (as written).
    fn own_index(&self, list: &str, name: &str) -> Option<usize> {
        self.workload
            .pod
            .get("spec")?
            .get(list)?
            .as_seq()?
            .iter()
            .position(|n| n.get_str("name") == Some(name))
    }

    /// Span of the node at `pointer` (from the root of the object holding
    /// the pod template) in that object's file.
    pub(crate) fn workload_span(&self, pointer: &str) -> Option<Range<usize>> {
        self.workload
            .pod_object
            .root
            .lookup_pointer(pointer)
            .map(|(n, _)| n.span.clone())
    }

    /// Where a piece of the resolved template is defined: file, span and the
    /// pointer in the defining object.
    pub(crate) fn template_span(&self, pointer: &str) -> Option<(FileId, Range<usize>, String)> {
        let Origin::Template { catalog, template } = self.origin else {
            return None;
        };
        let (t, ptr) = catalog.source(template, pointer)?;
        let (file, span) = catalog.locate(self.objects, t, &ptr)?;
        Some((file, span, ptr))
    }

    /// The workload as a finding's object.
    pub(crate) fn object_ref(&self) -> Option<ObjectRef> {
        Some(self.workload.object.object_ref(&self.workload.namespace))
    }

    /// `Kind/namespace/name` of the workload.
    pub(crate) fn display(&self) -> String {
        self.workload.display_name()
    }

    /// A finding at the workload's node `pointer` (falling back to its name).
    pub(crate) fn at_workload(&self, d: Diagnostic, pointer: &str) -> Diagnostic {
        let (file, span) = match self.workload_span(pointer) {
            Some(span) => (self.workload.pod_object.file, span),
            None => (self.workload.object.file, self.workload.object.name_span()),
        };
        d.at(file, span)
            .object(self.object_ref())
            .path(pointer.to_owned())
    }

    /// A finding at the template's definition of `pointer` (a pointer into
    /// the resolved template), falling back to the workload's name.
    pub(crate) fn at_template(&self, d: Diagnostic, pointer: &str) -> Diagnostic {
        let (catalog, template) = match self.origin {
            Origin::Template { catalog, template } => (catalog, template),
            // A known injector's additions: at the key that asked for them.
            Origin::Known { trigger, .. } => {
                return self.at_workload(d, trigger.unwrap_or("/metadata/name"));
            }
        };
        match self.template_span(pointer) {
            Some((file, span, path)) => {
                let t = catalog.source(template, pointer).map(|(t, _)| t);
                let object = t.map(|t| catalog.object(self.objects, t));
                d.at(file, span)
                    .object(object.map(|o| o.object_ref("")))
                    .path(path)
            }
            None => self.at_workload(d, "/metadata/name"),
        }
    }

    /// Adds a label at the template's definition of `pointer`, if found.
    pub(crate) fn label_template(
        &self,
        d: Diagnostic,
        pointer: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        match self.template_span(pointer) {
            Some((file, span, _)) => d.with_label(file, span, message),
            None => d,
        }
    }
}

/// A finding at `pointer` of the object holding the pod template (its
/// name when the pointer does not resolve).
pub(crate) fn at_pod_pointer(d: Diagnostic, workload: &Workload<'_>, pointer: &str) -> Diagnostic {
    let reported = workload.object.object_ref(&workload.namespace);
    super::at_pointer(d, workload.pod_object, reported, pointer)
}

/// The repository of an image reference (no tag, no digest).
pub(crate) fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

/// An integer field that may be written as a number or (after
/// interpolation) a string of digits.
pub(crate) fn as_int(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The image repository of a container, when it names one.
pub(crate) fn image_of(container: &Value) -> Option<&str> {
    container
        .get("image")
        .and_then(Value::as_str)
        .map(image_repository)
}

/// An injected entry whose name the workload already uses (INJ304, or
/// INJ305 when the workload carries the sidecar by hand).
pub(crate) struct NameClash<'a> {
    pub entry: InjectedEntry<'a>,
    /// `container` or `volume`.
    pub kind: &'static str,
    /// Pointer of the workload's own entry, from its object's root.
    pub pointer: String,
    /// The workload's own entry.
    pub own: &'a Value,
    /// The same image, on a pod that was not injected before: the sidecar
    /// added by hand.
    pub by_hand: bool,
}

impl<'a> CheckInput<'a> {
    /// Every injected entry whose name the workload already uses.
    pub(crate) fn name_clashes(&self) -> Vec<NameClash<'a>> {
        let injected_before = self.workload.annotations.contains_key(STATUS_ANNOTATION);
        let own_containers: Vec<_> = ["containers", "initContainers"]
            .into_iter()
            .flat_map(|list| self.own_entries(list))
            .collect();
        let own_volumes = self.own_entries("volumes");
        let mut out = Vec::new();
        for entry in self.injected() {
            let name = entry.name();
            if name.is_empty() {
                continue;
            }
            let own = if entry.is_container() {
                &own_containers
            } else {
                &own_volumes
            };
            let Some((pointer, value)) = own
                .iter()
                .find(|(_, v)| v.get("name").and_then(Value::as_str) == Some(name))
            else {
                continue;
            };
            let kind = if entry.is_container() {
                "container"
            } else {
                "volume"
            };
            let by_hand = entry.is_container()
                && !injected_before
                && image_of(value).is_some()
                && image_of(value) == image_of(entry.value);
            out.push(NameClash {
                kind,
                pointer: pointer.clone(),
                own: value,
                by_hand,
                entry,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories() {
        assert_eq!(
            image_repository("envoyproxy/envoy:v1.31.0"),
            "envoyproxy/envoy"
        );
        assert_eq!(
            image_repository("localhost:5000/envoy"),
            "localhost:5000/envoy"
        );
        assert_eq!(
            image_repository("localhost:5000/envoy:1@sha256:abc"),
            "localhost:5000/envoy"
        );
    }
}
