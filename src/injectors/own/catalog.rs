//! The template catalogue: every SidecarTemplate by name and version,
//! inheritance resolved.
//!
//! Templates are indexed by scope (a namespace, or cluster-wide) and name,
//! versions highest first. [`Catalog::find`] sees a namespace's own templates
//! first, then the cluster-wide ones; a namespaced template is invisible from
//! other namespaces.
//!
//! Inheritance (`extends`) is not merged up front (merging every template
//! onto its merged parent copied each ancestor into every descendant: a
//! hostile 10,000-deep chain took gigabytes). [`Catalog::new`] records each
//! template's parent and depth in time linear in the number of templates
//! (the parent links form a graph with at most one edge per template, so
//! cycles are found by one colouring walk and depths by one walk that stops
//! at the first known template). A template more than
//! [`MAX_INHERITANCE_DEPTH`] `extends` from its root does not resolve
//! (INJ111), so a walk up a lineage takes at most 33 steps. A merged
//! template ([`ResolvedTemplate`]) is built the first time an injection asks
//! for it, in one pass over its lineage (the own contents of at most 33
//! templates, entries found by name through indexes), and kept. The rules
//! that read every template read what each writes itself, and look inherited
//! parameters up along its lineage: the findings cost time linear in what
//! the templates write.
//!
//! The rules about templates (INJ101 for `extends`, INJ102, INJ104 for
//! defaults, INJ108, INJ111) read the facts recorded here; their messages
//! live in their own modules under `rules/`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{OnceLock, RwLock};

use serde_json::Value;

use super::template::{Parameter, Section, Template, TemplateRef};
use crate::model::Object;
use crate::source::FileId;

/// A template with its ancestors merged in (SPEC "Inheritance").
#[derive(Debug, Clone)]
pub struct ResolvedTemplate {
    /// Index (into the catalogue's templates) of the template itself.
    pub index: usize,
    pub name: String,
    /// `None`: cluster-wide.
    pub namespace: Option<String>,
    pub version: semver::Version,
    /// Index (into the catalogue's templates) of the template itself, then of
    /// each ancestor up to the root.
    pub chain: Vec<usize>,
    pub native_sidecar: bool,
    pub intercepts_traffic: bool,
    pub parameters: Vec<Parameter>,
    pub init_containers: Vec<Value>,
    pub containers: Vec<Value>,
    pub volumes: Vec<Value>,
    pub pod_annotations: BTreeMap<String, String>,
    pub pod_labels: BTreeMap<String, String>,
    /// Which template (index) each merged piece comes from:
    /// - `containers/NAME`, `initContainers/NAME`, `volumes/NAME`,
    ///   `parameters/NAME`: the most derived template that writes the entry;
    /// - `containers/NAME/FIELD` (and likewise for the other lists): the
    ///   template whose value of that field won the merge;
    /// - `podAnnotations/KEY`, `podLabels/KEY`, `nativeSidecar`,
    ///   `interceptsTraffic`: the template whose value won.
    ///
    /// Entries without a `name` have no origin.
    pub origins: BTreeMap<String, usize>,
}

impl ResolvedTemplate {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The merged entries of a list section.
    pub fn section(&self, section: Section) -> &[Value] {
        match section {
            Section::InitContainers => &self.init_containers,
            Section::Containers => &self.containers,
            Section::Volumes => &self.volumes,
        }
    }

    fn section_mut(&mut self, section: Section) -> &mut Vec<Value> {
        match section {
            Section::InitContainers => &mut self.init_containers,
            Section::Containers => &mut self.containers,
            Section::Volumes => &mut self.volumes,
        }
    }

    /// The merged parameter `name`.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The template (index) an origin key (see [`Self::origins`]) comes from.
    pub fn origin(&self, key: &str) -> Option<usize> {
        self.origins.get(key).copied()
    }

    /// The template a merged entry comes from (`Containers`, `"proxy"`).
    pub fn entry_origin(&self, section: Section, name: &str) -> Option<usize> {
        self.origin(&format!("{}/{name}", section.key()))
    }

    /// Template `index` with its `lineage` (itself, then each ancestor up
    /// to the root) merged, root first: one pass over the lineage's own
    /// contents, entries found by name through indexes (so the work is
    /// linear in what the lineage writes).
    fn merge(templates: &[Template], index: usize, lineage: Vec<usize>) -> Self {
        let template = &templates[index];
        let mut r = ResolvedTemplate {
            index,
            name: template.name.clone(),
            namespace: template.namespace.clone(),
            version: template.version.clone(),
            chain: Vec::new(),
            native_sidecar: false,
            intercepts_traffic: false,
            parameters: Vec::new(),
            init_containers: Vec::new(),
            containers: Vec::new(),
            volumes: Vec::new(),
            pod_annotations: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            origins: BTreeMap::new(),
        };
        let mut positions = Positions::default();
        for &t in lineage.iter().rev() {
            r.apply(t, &templates[t], &mut positions);
        }
        r.chain = lineage;
        r
    }

    /// Merges the own contents of `template` (index `index`) onto `self`.
    fn apply(&mut self, index: usize, template: &Template, positions: &mut Positions) {
        let spec = &template.spec;
        if let Some(native) = spec.native_sidecar {
            self.native_sidecar = native;
            self.origins.insert("nativeSidecar".into(), index);
        }
        if let Some(intercepts) = spec.intercepts_traffic {
            self.intercepts_traffic = intercepts;
            self.origins.insert("interceptsTraffic".into(), index);
        }
        for param in &spec.parameters {
            self.merge_parameter(param, index, positions);
        }
        for section in Section::ALL {
            for entry in template.section(section) {
                self.merge_entry(section, entry, index, positions);
            }
        }
        for (key, value) in &spec.pod_annotations {
            self.pod_annotations.insert(key.clone(), value.clone());
            self.origins.insert(format!("podAnnotations/{key}"), index);
        }
        for (key, value) in &spec.pod_labels {
            self.pod_labels.insert(key.clone(), value.clone());
            self.origins.insert(format!("podLabels/{key}"), index);
        }
    }

    fn merge_parameter(&mut self, param: &Parameter, index: usize, positions: &mut Positions) {
        let name = &param.name;
        self.origins.insert(format!("parameters/{name}"), index);
        for (field, set) in parameter_fields(param) {
            if set {
                self.origins
                    .insert(format!("parameters/{name}/{field}"), index);
            }
        }
        match positions.parameters.get(name) {
            Some(&k) => {
                let old = &mut self.parameters[k];
                let p = param.clone();
                old.annotation = p.annotation.or(old.annotation.take());
                old.default = p.default.or(old.default.take());
                old.pattern = p.pattern.or(old.pattern.take());
                old.allowed = p.allowed.or(old.allowed.take());
                old.description = p.description.or(old.description.take());
            }
            None => {
                positions
                    .parameters
                    .insert(name.clone(), self.parameters.len());
                self.parameters.push(param.clone());
            }
        }
    }

    fn merge_entry(
        &mut self,
        section: Section,
        entry: &Value,
        index: usize,
        positions: &mut Positions,
    ) {
        let Some(name) = entry.get("name").and_then(Value::as_str) else {
            self.section_mut(section).push(entry.clone());
            return;
        };
        let key = section.key();
        self.origins.insert(format!("{key}/{name}"), index);
        if let Value::Object(fields) = entry {
            for field in fields.keys() {
                self.origins.insert(format!("{key}/{name}/{field}"), index);
            }
        }
        let slot = (section, name.to_owned());
        let existing = positions.entries.get(&slot).copied();
        let list = self.section_mut(section);
        match (existing.map(|k| &mut list[k]), entry) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                for (field, value) in new {
                    old.insert(field.clone(), value.clone());
                }
            }
            (Some(old), _) => *old = entry.clone(),
            (None, _) => {
                positions.entries.insert(slot, list.len());
                list.push(entry.clone());
            }
        }
    }
}

/// Where each named entry and parameter sits in a template being merged.
#[derive(Default)]
struct Positions {
    entries: HashMap<(Section, String), usize>,
    parameters: HashMap<String, usize>,
}

/// The fields of a parameter that a child may override, and whether
/// `param` sets each.
fn parameter_fields(param: &Parameter) -> [(&'static str, bool); 5] {
    [
        ("annotation", param.annotation.is_some()),
        ("default", param.default.is_some()),
        ("pattern", param.pattern.is_some()),
        ("enum", param.allowed.is_some()),
        ("description", param.description.is_some()),
    ]
}

/// What a template's `extends` leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// No `extends`.
    None,
    /// The parent's index.
    Found(usize),
    /// `extends` names a template that does not exist (INJ101).
    Missing(TemplateRef),
}

/// Name → scopes (a namespace, or `None` for cluster-wide) → template indices.
type ByName = HashMap<String, Vec<(Option<String>, Vec<usize>)>>;

/// All templates of a run.
#[derive(Debug, Default)]
pub struct Catalog {
    pub templates: Vec<Template>,
    /// Per template: where its `extends` leads.
    pub parents: Vec<Parent>,
    /// Inheritance cycles (INJ102), each in `extends` order: `cycle[0]`
    /// extends `cycle[1]`, …, the last extends `cycle[0]`. Rotated so that
    /// the first member is the earliest template of the inputs.
    pub cycles: Vec<Vec<usize>>,
    /// Name → scopes (a namespace, or `None` for cluster-wide) → indices,
    /// highest version first, one per version (the first definition).
    by_name: ByName,
    /// Per template: its number of ancestors when its lineage reaches a
    /// root (0: no `extends`), even past [`MAX_INHERITANCE_DEPTH`]; `None`
    /// in or below a cycle, or below a missing parent.
    depths: Vec<Option<usize>>,
    /// Per template: its parameters' positions in its own spec, by name
    /// (every declaration of a name, in order: a later one overrides the
    /// fields it sets, as a child does), so that a lineage is searched in
    /// one step per ancestor.
    own_parameters: Vec<HashMap<String, Vec<usize>>>,
    /// Merged templates, each built the first time it is asked for
    /// ([`Catalog::resolved`]): building every one up front copied each
    /// ancestor into every descendant (quadratic in a chain's length).
    resolved: Vec<OnceLock<Option<Box<ResolvedTemplate>>>>,
}

/// The most `extends` links between a template and the root of its
/// lineage (INJ111): a lineage holds at most 33 templates. Layered
/// platforms use a handful (a base, an organisation's defaults, a mesh's
/// proxy, a team's variant, a canary); 32 leaves room for six times that,
/// and bounds every walk up a lineage and every merge to 33 templates.
/// A template deeper than this is treated as missing.
pub const MAX_INHERITANCE_DEPTH: usize = 32;

impl Catalog {
    /// Reads every SidecarTemplate among `objects` and resolves their
    /// inheritance (the rules report what is wrong with them).
    pub fn new(objects: &[Object]) -> Catalog {
        let templates: Vec<Template> = objects
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.shadowed)
            .filter_map(|(i, o)| Template::from_object(i, o))
            .collect();
        let mut by_name = ByName::new();
        for (i, t) in templates.iter().enumerate() {
            let scopes = by_name.entry(t.name.clone()).or_default();
            match scopes.iter_mut().find(|(ns, _)| *ns == t.namespace) {
                Some((_, list)) => list.push(i),
                None => scopes.push((t.namespace.clone(), vec![i])),
            }
        }
        for scopes in by_name.values_mut() {
            scopes.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, list) in scopes.iter_mut() {
                list.sort_by(|&a, &b| {
                    templates[b]
                        .version
                        .cmp(&templates[a].version)
                        .then(a.cmp(&b))
                });
                list.dedup_by(|b, a| templates[*a].version == templates[*b].version);
            }
        }
        let mut catalog = Catalog {
            templates,
            parents: Vec::new(),
            cycles: Vec::new(),
            by_name,
            depths: Vec::new(),
            own_parameters: Vec::new(),
            resolved: Vec::new(),
        };
        catalog.parents = catalog
            .templates
            .iter()
            .map(|t| match t.extends() {
                None => Parent::None,
                Some(r) => match catalog.find_in(&r, t.namespace.as_deref()) {
                    Some(p) => Parent::Found(p),
                    None => Parent::Missing(r),
                },
            })
            .collect();
        catalog.find_cycles();
        catalog.find_depths();
        catalog.own_parameters = catalog
            .templates
            .iter()
            .map(|t| {
                let mut own: HashMap<String, Vec<usize>> =
                    HashMap::with_capacity(t.spec.parameters.len());
                for (k, p) in t.spec.parameters.iter().enumerate() {
                    own.entry(p.name.clone()).or_default().push(k);
                }
                own
            })
            .collect();
        catalog.resolved = (0..catalog.templates.len())
            .map(|_| OnceLock::new())
            .collect();
        catalog
    }

    /// The template `reference` names, seen from `namespace`: a template of
    /// that namespace first, else a cluster-wide one; the highest version
    /// when the reference names none.
    pub fn find(&self, reference: &TemplateRef, namespace: &str) -> Option<usize> {
        self.find_in(reference, Some(namespace).filter(|n| !n.is_empty()))
    }

    /// [`Self::find`] with an optional namespace: `None` sees only
    /// cluster-wide templates (as a cluster-wide template's `extends` does).
    pub fn find_in(&self, reference: &TemplateRef, namespace: Option<&str>) -> Option<usize> {
        let wanted = match reference.semver() {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => return None,
        };
        let scopes = self.by_name.get(&reference.name)?;
        let scope = |ns: Option<&str>| {
            scopes
                .iter()
                .find(|(s, _)| s.as_deref() == ns)
                .map(|(_, list)| list)
        };
        let visible = namespace
            .map(|ns| scope(Some(ns)))
            .into_iter()
            .chain([scope(None)]);
        for list in visible.flatten() {
            let found = match &wanted {
                None => list.first().copied(),
                Some(v) => list
                    .iter()
                    .copied()
                    .find(|&i| self.templates[i].version == *v),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Whether `reference` names a template in any scope (a cluster policy's
    /// template may be namespaced: it serves the pods of its namespace).
    pub fn find_anywhere(&self, reference: &TemplateRef) -> bool {
        let Some(scopes) = self.by_name.get(&reference.name) else {
            return false;
        };
        scopes
            .iter()
            .any(|(ns, _)| self.find_in(reference, ns.as_deref()).is_some())
    }

    /// The merged template of `index`; `None` when its inheritance is broken
    /// (a cycle, a missing parent) or deeper than
    /// [`MAX_INHERITANCE_DEPTH`]. Built on first use, once.
    pub fn resolved(&self, index: usize) -> Option<&ResolvedTemplate> {
        self.resolved
            .get(index)?
            .get_or_init(|| {
                self.resolves(index).then(|| {
                    let lineage = self.lineage(index).collect();
                    Box::new(ResolvedTemplate::merge(&self.templates, index, lineage))
                })
            })
            .as_deref()
    }

    /// Whether template `index` resolves: its lineage reaches a root within
    /// [`MAX_INHERITANCE_DEPTH`] `extends` (without building it).
    pub fn resolves(&self, index: usize) -> bool {
        self.depth(index)
            .is_some_and(|d| d <= MAX_INHERITANCE_DEPTH)
    }

    /// The number of ancestors of template `index` (0: no `extends`), also
    /// past [`MAX_INHERITANCE_DEPTH`]; `None` in or below a cycle, or below
    /// a missing parent.
    pub fn depth(&self, index: usize) -> Option<usize> {
        self.depths.get(index).copied().flatten()
    }

    /// Template `index`, then its parent, and so on up to the root; at most
    /// `MAX_INHERITANCE_DEPTH + 1` templates (so a cycle ends too).
    pub fn lineage(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(index), |&i| match self.parents.get(i)? {
            Parent::Found(p) => Some(*p),
            _ => None,
        })
        .take(MAX_INHERITANCE_DEPTH + 1)
    }

    /// Whether parameter `name` is declared by template `index` or one of its
    /// ancestors (one lookup per template of its lineage).
    pub fn declares(&self, index: usize, name: &str) -> bool {
        self.lineage(index)
            .any(|t| self.own_parameters[t].contains_key(name))
    }

    /// The parameter names template `index` sees, in merged order (its
    /// root's first).
    pub fn parameter_names(&self, index: usize) -> Vec<&str> {
        let lineage: Vec<usize> = self.lineage(index).collect();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for &t in lineage.iter().rev() {
            for p in &self.templates[t].spec.parameters {
                if seen.insert(p.name.as_str()) {
                    out.push(p.name.as_str());
                }
            }
        }
        out
    }

    /// Parameter `name` as template `index` sees it: each field from the
    /// nearest template of the lineage that writes it (as merging does),
    /// with where that is. `None` when no template of the lineage declares
    /// it. One lookup per template of the lineage, nothing merged.
    pub fn parameter_at(&self, index: usize, name: &str) -> Option<MergedParameter> {
        let mut merged: Option<MergedParameter> = None;
        for t in self.lineage(index) {
            let Some(positions) = self.own_parameters[t].get(name) else {
                continue;
            };
            // The nearest declaration first: the template's last.
            for &k in positions.iter().rev() {
                let own = &self.templates[t].spec.parameters[k];
                let m = merged.get_or_insert_with(|| MergedParameter {
                    parameter: Parameter {
                        name: name.to_owned(),
                        annotation: None,
                        default: None,
                        pattern: None,
                        allowed: None,
                        description: None,
                    },
                    sources: BTreeMap::new(),
                });
                for (field, set) in parameter_fields(own) {
                    if set {
                        m.sources.entry(field).or_insert((t, k));
                    }
                }
                let p = &mut m.parameter;
                if p.annotation.is_none() {
                    p.annotation.clone_from(&own.annotation);
                }
                if p.default.is_none() {
                    p.default.clone_from(&own.default);
                }
                if p.pattern.is_none() {
                    p.pattern.clone_from(&own.pattern);
                }
                if p.allowed.is_none() {
                    p.allowed.clone_from(&own.allowed);
                }
                if p.description.is_none() {
                    p.description.clone_from(&own.description);
                }
            }
        }
        merged
    }

    /// The versions of `name` visible from `namespace` (its own first, then
    /// cluster-wide), highest first.
    pub fn versions(&self, name: &str, namespace: Option<&str>) -> Vec<&semver::Version> {
        let Some(scopes) = self.by_name.get(name) else {
            return Vec::new();
        };
        let mut out: Vec<&semver::Version> = scopes
            .iter()
            .filter(|(s, _)| s.is_none() || s.as_deref() == namespace)
            .flat_map(|(_, list)| list.iter().map(|&i| &self.templates[i].version))
            .collect();
        out.sort_by(|a, b| b.cmp(a));
        out.dedup();
        out
    }

    /// The help for a reference that [`Self::find_in`] does not find: the
    /// versions that exist, the namespaces that hide it, or a name close to
    /// it. For INJ101 wherever a template is named.
    pub fn missing_help(&self, reference: &TemplateRef, namespace: Option<&str>) -> String {
        let name = &reference.name;
        let versions = self.versions(name, namespace);
        if !versions.is_empty() {
            let list = join(versions.iter().map(|v| format!("`{v}`")));
            let (has, pick) = if versions.len() == 1 {
                ("has only", "name it")
            } else {
                ("has", "name one of them")
            };
            return match reference.semver() {
                Some(Err(_)) => format!(
                    "a version is a full semantic version (`1.4.0`); `{name}` {has} {list}: {pick}, or drop the version for the highest"
                ),
                _ => format!("`{name}` {has} {list}: {pick}, or drop the version for the highest"),
            };
        }
        if let Some(scopes) = self.by_name.get(name) {
            let elsewhere = join(
                scopes
                    .iter()
                    .filter_map(|(s, _)| s.as_ref().map(|s| format!("`{s}`"))),
            );
            let here = namespace.map_or("cluster-wide templates".to_owned(), |ns| {
                format!("namespace `{ns}`")
            });
            return format!(
                "`{name}` is defined only in namespace {elsewhere}, which {here} cannot see: define it cluster-wide (no `metadata.namespace`) or in the namespace that uses it"
            );
        }
        // The object's name of a version (`envoy-proxy-1.5.0`), not the template's.
        let by_object = self.templates.iter().find(|t| {
            (t.namespace.is_none() || t.namespace.as_deref() == namespace)
                && format!("{}-{}", t.name, t.version) == *name
        });
        if let Some(t) = by_object {
            let id = t.id();
            return format!(
                "`{name}` is the object that defines template `{id}`: a template is named without the version its object's name ends with, so name it `{id}` (or `{}` for the highest version)",
                t.name
            );
        }
        let visible = self
            .by_name
            .iter()
            .filter(|(_, scopes)| {
                scopes
                    .iter()
                    .any(|(s, _)| s.is_none() || s.as_deref() == namespace)
            })
            .map(|(n, _)| n.as_str());
        match crate::words::did_you_mean(name, visible) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!(
                "define a SidecarTemplate `{name}`, or name one that exists{}",
                if self.templates.is_empty() {
                    String::new()
                } else {
                    " (`kubectl inject lint` lists them in its findings' objects)".to_owned()
                }
            ),
        }
    }

    /// Where a piece of a resolved template is written: `pointer` is a JSON
    /// pointer into the resolved template's fields (`/containers/0/image`,
    /// `/podAnnotations/a~1b`, `/parameters/1/default`, `/nativeSidecar`);
    /// the answer is the defining template's index and the JSON pointer of
    /// the same piece in that template's object (`/spec/containers/2/image`).
    pub fn source(&self, resolved: &ResolvedTemplate, pointer: &str) -> Option<(usize, String)> {
        let mut parts = pointer.splitn(5, '/');
        if parts.next() != Some("") {
            return None;
        }
        let section = parts.next()?;
        let second = parts.next();
        let field = parts.next();
        let rest = parts.next();
        let tail = match (field, rest) {
            (Some(f), Some(r)) => format!("/{f}/{r}"),
            (Some(f), None) => format!("/{f}"),
            _ => String::new(),
        };
        match section {
            "nativeSidecar" | "interceptsTraffic" if second.is_none() => {
                Some((resolved.origin(section)?, format!("/spec/{section}")))
            }
            "podAnnotations" | "podLabels" => {
                let key = crate::yaml::pointer::unescape(second?);
                let t = resolved.origin(&format!("{section}/{key}"))?;
                Some((t, format!("/spec/{section}/{}", second?)))
            }
            "parameters" => {
                let name = &resolved
                    .parameters
                    .get(second?.parse::<usize>().ok()?)?
                    .name;
                let origin_key = match field {
                    Some(f) => format!("parameters/{name}/{}", crate::yaml::pointer::unescape(f)),
                    None => format!("parameters/{name}"),
                };
                let t = resolved.origin(&origin_key)?;
                let declarations = self.own_parameters[t].get(name)?;
                // A field comes from the template's last declaration that
                // sets it (a later one overrides an earlier one).
                let sets = |k: &usize| {
                    let Some(f) = field else { return true };
                    let f = crate::yaml::pointer::unescape(f);
                    parameter_fields(&self.templates[t].spec.parameters[*k])
                        .iter()
                        .any(|(name, set)| *set && *name == f)
                };
                let k = match field {
                    Some(_) => declarations.iter().rev().find(|k| sets(k)),
                    None => declarations.first(),
                }?;
                Some((t, format!("/spec/parameters/{k}{tail}")))
            }
            _ => {
                let s = Section::from_key(section)?;
                let entry = resolved.section(s).get(second?.parse::<usize>().ok()?)?;
                let name = entry.get("name")?.as_str()?;
                let origin_key = match field {
                    Some(f) => format!("{section}/{name}/{}", crate::yaml::pointer::unescape(f)),
                    None => format!("{section}/{name}"),
                };
                let t = resolved.origin(&origin_key)?;
                let k = self.templates[t]
                    .section(s)
                    .iter()
                    .position(|e| e.get("name").and_then(Value::as_str) == Some(name))?;
                Some((t, format!("/spec/{section}/{k}{tail}")))
            }
        }
    }

    /// The file and span of the node at `pointer` in template `index`'s
    /// object (the value, as diagnostics point at the value at fault).
    pub fn locate(
        &self,
        objects: &[Object],
        index: usize,
        pointer: &str,
    ) -> Option<(FileId, Range<usize>)> {
        let object = objects.get(self.templates.get(index)?.object)?;
        let (node, _) = object.root.lookup_pointer(pointer)?;
        Some((object.file, node.span.clone()))
    }

    /// The object that defines template `index`.
    pub fn object<'o>(&self, objects: &'o [Object], index: usize) -> &'o Object {
        &objects[self.templates[index].object]
    }

    /// Finds the cycles of the parent graph (each template has at most one
    /// parent, so one walk per unvisited template finds every cycle once).
    fn find_cycles(&mut self) {
        const NEW: u8 = 0;
        const ON_PATH: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; self.templates.len()];
        for start in 0..self.templates.len() {
            let mut path = Vec::new();
            let mut current = Some(start);
            while let Some(i) = current {
                match state[i] {
                    NEW => {
                        state[i] = ON_PATH;
                        path.push(i);
                        current = match self.parents[i] {
                            Parent::Found(p) => Some(p),
                            _ => None,
                        };
                    }
                    ON_PATH => {
                        let from = path.iter().position(|&p| p == i).unwrap_or(0);
                        let mut cycle = path[from..].to_vec();
                        let first = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
                        cycle.rotate_left(first);
                        self.cycles.push(cycle);
                        current = None;
                    }
                    _ => current = None,
                }
            }
            for i in path {
                state[i] = DONE;
            }
        }
        self.cycles.sort();
    }

    /// The depth of every template (see [`Self::depths`]): one walk up
    /// from each template not yet known, stopping at the first known one,
    /// so each template is visited a bounded number of times however long
    /// its lineage.
    fn find_depths(&mut self) {
        let n = self.templates.len();
        // Outer `None`: not known yet.
        let mut known: Vec<Option<Option<usize>>> = vec![None; n];
        for cycle in &self.cycles {
            for &i in cycle {
                known[i] = Some(None);
            }
        }
        let mut pending = Vec::new();
        for start in 0..n {
            pending.clear();
            let mut current = start;
            // What is above the pending templates: `None` when the last
            // of them is a root; else the known depth of its parent (`None`
            // there: broken, as a missing parent is).
            let above: Option<Option<usize>> = loop {
                if let Some(depth) = known[current] {
                    break Some(depth);
                }
                pending.push(current);
                match &self.parents[current] {
                    Parent::Found(p) => current = *p,
                    Parent::None => break None,
                    Parent::Missing(_) => break Some(None),
                }
            };
            // Down from the top: a root is 0, a child one more than its parent.
            let mut next = match above {
                None => Some(0),
                Some(parent) => parent.map(|d| d + 1),
            };
            for &i in pending.iter().rev() {
                known[i] = Some(next);
                next = next.map(|d| d + 1);
            }
        }
        self.depths = known.into_iter().map(Option::flatten).collect();
    }
}

/// A parameter merged along a lineage (see [`Catalog::parameter_at`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MergedParameter {
    pub parameter: Parameter,
    /// Per field (`default`, `pattern`, `enum`, `annotation`,
    /// `description`): the template that writes it and the parameter's
    /// position in that template's `spec.parameters`.
    sources: BTreeMap<&'static str, (usize, usize)>,
}

impl MergedParameter {
    /// Where `field` is written: the template and the JSON pointer in its
    /// object (`/spec/parameters/2/default`).
    pub fn source(&self, field: &str) -> Option<(usize, String)> {
        let &(t, k) = self.sources.get(field)?;
        Some((t, format!("/spec/parameters/{k}/{field}")))
    }
}

/// `a`, `b` and `c`.
pub(crate) fn join(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Checks a parameter value (a default, or a pod's annotation) against the
/// parameter's `pattern` (a regular expression, searched, so anchor it) and
/// `enum`. The error says which check failed.
pub fn check_value(param: &Parameter, value: &str) -> Result<(), String> {
    if let Some(pattern) = &param.pattern {
        let regex = compiled(pattern).map_err(|e| {
            format!("the pattern `{pattern}` is not a valid regular expression ({e})")
        })?;
        if !regex.is_match(value) {
            return Err(format!("`{value}` does not match the pattern `{pattern}`"));
        }
    }
    if let Some(allowed) = &param.allowed
        && !allowed.iter().any(|a| a == value)
    {
        let list = join(allowed.iter().map(|a| format!("`{a}`")));
        return Err(if allowed.len() == 1 {
            format!("`{value}` is not {list}, the only value its enum allows")
        } else {
            format!("`{value}` is not one of {list}")
        });
    }
    Ok(())
}

/// Compiles a parameter pattern once per process; the error is one line.
pub fn compiled(pattern: &str) -> Result<regex::Regex, String> {
    type Cache = RwLock<HashMap<String, Result<regex::Regex, String>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.read().ok().and_then(|c| c.get(pattern).cloned()) {
        return hit;
    }
    let result = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(text) => text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or("syntax error")
                .to_owned(),
            regex::Error::CompiledTooBig(_) => "it compiles to more than 1 MiB".to_owned(),
            other => other.to_string(),
        });
    if let Ok(mut c) = cache.write() {
        c.insert(pattern.to_owned(), result.clone());
    }
    result
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The catalogue and the rules' findings about its templates.
    fn build(objects: &[Object]) -> (Catalog, Vec<crate::diagnostic::Diagnostic>) {
        let catalog = Catalog::new(objects);
        let found = crate::rules::simulation::template_findings(&catalog, objects, "default");
        (catalog, found)
    }
    use crate::source::FileId;

    fn objects(yaml_docs: &[&str]) -> Vec<Object> {
        yaml_docs
            .iter()
            .enumerate()
            .map(|(i, doc)| {
                let json: Value = serde_json::from_str(doc).expect("test JSON");
                Object::from_root(FileId(0), i, node_of(&json)).expect("an object")
            })
            .collect()
    }

    /// A span-less node tree of a JSON value (enough for the catalogue).
    fn node_of(value: &Value) -> crate::yaml::Node {
        use crate::yaml::{Entry, Node, Value as Y};
        let value = match value {
            Value::Null => Y::Null,
            Value::Bool(b) => Y::Bool(*b),
            Value::Number(n) => Y::Int(n.as_i64().unwrap_or_default()),
            Value::String(s) => Y::String(s.clone()),
            Value::Array(items) => Y::Seq(items.iter().map(node_of).collect()),
            Value::Object(map) => Y::Map(
                map.iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        key_span: 0..0,
                        value: node_of(v),
                    })
                    .collect(),
            ),
        };
        Node {
            span: 0..0,
            value,
            plain: false,
        }
    }

    fn template(name: &str, namespace: Option<&str>, spec: Value) -> String {
        let mut metadata = json!({ "name": name });
        if let Some(ns) = namespace {
            metadata["namespace"] = json!(ns);
        }
        json!({
            "apiVersion": "kubectl-inject.dev/v1alpha1",
            "kind": "SidecarTemplate",
            "metadata": metadata,
            "spec": spec,
        })
        .to_string()
    }

    fn r(text: &str) -> TemplateRef {
        TemplateRef::parse(text)
    }

    #[test]
    fn versions_named_by_object_are_one_template() {
        // A cluster keeps one object per name: `proxy-2.0.0` is `proxy@2.0.0`.
        let objs = objects(&[
            &template("proxy", None, json!({"version": "1.0.0"})),
            &template("proxy-2.0.0", None, json!({"version": "2.0.0"})),
            &template(
                "child-1.0.0",
                None,
                json!({"version": "1.0.0", "extends": "proxy@2.0.0"}),
            ),
        ]);
        let (catalog, diagnostics) = build(&objs);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(catalog.find(&r("proxy"), "shop"), Some(1));
        assert_eq!(catalog.find(&r("proxy@1.0.0"), "shop"), Some(0));
        assert_eq!(catalog.find(&r("child@1.0.0"), "shop"), Some(2));
        assert_eq!(catalog.find(&r("proxy-2.0.0"), "shop"), None);
        assert_eq!(catalog.templates[2].name, "child");
        let help = catalog.missing_help(&r("proxy-2.0.0"), Some("shop"));
        assert!(help.contains("name it `proxy@2.0.0`"), "{help}");
    }

    #[test]
    fn find_scopes_and_versions() {
        let objs = objects(&[
            &template("proxy", None, json!({"version": "1.0.0"})),
            &template("proxy", None, json!({"version": "1.10.0"})),
            &template("proxy", None, json!({"version": "1.9.0"})),
            &template("proxy", Some("shop"), json!({"version": "0.1.0"})),
            &template("agent", Some("shop"), json!({"version": "2.0.0"})),
        ]);
        let (catalog, diagnostics) = build(&objs);
        assert!(diagnostics.is_empty());
        // Highest version by semver, not by text.
        assert_eq!(catalog.find(&r("proxy"), "cart"), Some(1));
        // The namespace's own template first.
        assert_eq!(catalog.find(&r("proxy"), "shop"), Some(3));
        // An exact version: the namespace's, else the cluster's.
        assert_eq!(catalog.find(&r("proxy@1.9.0"), "shop"), Some(2));
        assert_eq!(catalog.find(&r("proxy@0.1.0"), "shop"), Some(3));
        assert_eq!(catalog.find(&r("proxy@0.1.0"), "cart"), None);
        assert_eq!(catalog.find(&r("proxy@1.4"), "cart"), None);
        assert_eq!(catalog.find(&r("proxy@2.0.0"), "cart"), None);
        // A namespaced template is invisible elsewhere and cluster-wide.
        assert_eq!(catalog.find(&r("agent"), "shop"), Some(4));
        assert_eq!(catalog.find(&r("agent"), "cart"), None);
        assert_eq!(catalog.find_in(&r("agent"), None), None);
        assert_eq!(catalog.find(&r("nope"), "shop"), None);
        let versions: Vec<String> = catalog
            .versions("proxy", Some("shop"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(versions, ["1.10.0", "1.9.0", "1.0.0", "0.1.0"]);
        assert!(
            catalog
                .missing_help(&r("proxy@2.0.0"), None)
                .contains("`1.10.0`")
        );
        assert!(
            catalog
                .missing_help(&r("agent"), Some("cart"))
                .contains("`shop`")
        );
        assert_eq!(
            catalog.missing_help(&r("proxi"), Some("cart")),
            "did you mean `proxy`?"
        );
    }

    #[test]
    fn inheritance_merges_by_name_across_three_levels() {
        let objs = objects(&[
            &template(
                "base",
                None,
                json!({
                    "version": "1.0.0",
                    "nativeSidecar": true,
                    "parameters": [
                        {"name": "cpu", "annotation": "x.dev/cpu", "default": "100m", "pattern": "^[0-9]+m$"},
                        {"name": "level", "annotation": "x.dev/level", "default": "info"},
                    ],
                    "initContainers": [{"name": "init", "image": "init:1"}],
                    "containers": [{"name": "proxy", "image": "proxy:1", "ports": [{"containerPort": 15001}]}],
                    "volumes": [{"name": "certs", "emptyDir": {}}],
                    "podAnnotations": {"a": "base", "b": "base"},
                    "podLabels": {"mesh": "on"},
                }),
            ),
            &template(
                "mid",
                None,
                json!({
                    "version": "1.0.0",
                    "extends": "base@1.0.0",
                    "parameters": [{"name": "cpu", "annotation": "x.dev/cpu", "default": "200m"}],
                    "containers": [
                        {"name": "proxy", "image": "proxy:2"},
                        {"name": "agent", "image": "agent:1"},
                    ],
                    "podAnnotations": {"b": "mid"},
                }),
            ),
            &template(
                "leaf",
                Some("shop"),
                json!({
                    "version": "3.0.0",
                    "extends": "mid",
                    "nativeSidecar": false,
                    "containers": [{"name": "agent", "args": ["--v"]}],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                }),
            ),
        ]);
        let (catalog, diagnostics) = build(&objs);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let leaf = catalog.resolved(2).expect("resolves");
        assert_eq!(leaf.id(), "leaf@3.0.0");
        assert_eq!(leaf.chain, [2, 1, 0]);
        assert!(!leaf.native_sidecar);
        assert!(catalog.resolved(1).unwrap().native_sidecar);
        assert_eq!(
            leaf.containers,
            [
                json!({"name": "proxy", "image": "proxy:2", "ports": [{"containerPort": 15001}]}),
                json!({"name": "agent", "image": "agent:1", "args": ["--v"]}),
            ]
        );
        assert_eq!(
            leaf.init_containers,
            [json!({"name": "init", "image": "init:1"})]
        );
        assert_eq!(
            leaf.volumes,
            [
                json!({"name": "certs", "emptyDir": {}}),
                json!({"name": "data", "emptyDir": {}})
            ]
        );
        let cpu = leaf.parameter("cpu").unwrap();
        assert_eq!(cpu.default.as_deref(), Some("200m"));
        assert_eq!(cpu.pattern.as_deref(), Some("^[0-9]+m$"));
        assert_eq!(leaf.parameters.len(), 2);
        assert_eq!(leaf.pod_annotations["a"], "base");
        assert_eq!(leaf.pod_annotations["b"], "mid");
        assert_eq!(leaf.pod_labels["mesh"], "on");
        // Origins.
        assert_eq!(leaf.entry_origin(Section::Containers, "proxy"), Some(1));
        assert_eq!(leaf.origin("containers/proxy/ports"), Some(0));
        assert_eq!(leaf.origin("containers/proxy/image"), Some(1));
        assert_eq!(leaf.entry_origin(Section::Containers, "agent"), Some(2));
        assert_eq!(leaf.origin("containers/agent/image"), Some(1));
        assert_eq!(leaf.entry_origin(Section::InitContainers, "init"), Some(0));
        assert_eq!(leaf.entry_origin(Section::Volumes, "data"), Some(2));
        assert_eq!(leaf.origin("parameters/cpu/pattern"), Some(0));
        assert_eq!(leaf.origin("nativeSidecar"), Some(2));
        // Sources in the defining objects.
        assert_eq!(
            catalog.source(leaf, "/containers/0/ports/0/containerPort"),
            Some((0, "/spec/containers/0/ports/0/containerPort".into()))
        );
        assert_eq!(
            catalog.source(leaf, "/containers/1/args/0"),
            Some((2, "/spec/containers/0/args/0".into()))
        );
        assert_eq!(
            catalog.source(leaf, "/containers/1/image"),
            Some((1, "/spec/containers/1/image".into()))
        );
        assert_eq!(
            catalog.source(leaf, "/podAnnotations/b"),
            Some((1, "/spec/podAnnotations/b".into()))
        );
        assert_eq!(
            catalog.source(leaf, "/parameters/0/pattern"),
            Some((0, "/spec/parameters/0/pattern".into()))
        );
    }

    #[test]
    fn cycles_and_missing_parents_break_resolution() {
        let objs = objects(&[
            &template("a", None, json!({"version": "1.0.0", "extends": "b"})),
            &template("b", None, json!({"version": "1.0.0", "extends": "a@1.0.0"})),
            &template("self", None, json!({"version": "1.0.0", "extends": "self"})),
            &template("below", None, json!({"version": "1.0.0", "extends": "a"})),
            &template(
                "orphan",
                None,
                json!({"version": "1.0.0", "extends": "base@2.0.0"}),
            ),
            &template(
                "under-orphan",
                None,
                json!({"version": "1.0.0", "extends": "orphan"}),
            ),
            &template("base", None, json!({"version": "1.0.0"})),
            // A cluster-wide template cannot extend a namespaced one.
            &template("ns-base", Some("shop"), json!({"version": "1.0.0"})),
            &template(
                "cluster",
                None,
                json!({"version": "1.0.0", "extends": "ns-base"}),
            ),
        ]);
        let (catalog, diagnostics) = build(&objs);
        assert_eq!(catalog.cycles, [vec![0, 1], vec![2]]);
        for i in 0..6 {
            assert!(catalog.resolved(i).is_none(), "{i}");
        }
        assert!(catalog.resolved(6).is_some());
        assert!(catalog.resolved(8).is_none());
        assert_eq!(catalog.parents[4], Parent::Missing(r("base@2.0.0")));
        assert_eq!(catalog.parents[8], Parent::Missing(r("ns-base")));
        let ids: Vec<&str> = diagnostics.iter().map(|d| d.rule.id).collect();
        assert_eq!(ids, ["INJ101", "INJ101", "INJ102", "INJ102"]);
        assert!(
            diagnostics[2]
                .message
                .contains("`a@1.0.0 → b@1.0.0 → a@1.0.0`")
        );
        assert!(diagnostics[3].message.contains("`self@1.0.0 → self@1.0.0`"));
        assert!(diagnostics[0].help.as_deref().unwrap().contains("`1.0.0`"));
    }

    /// `n` templates, each extending the one before (`t-0` has no parent)
    /// and adding a container of its own; a policy-less, hostile chain.
    fn chain(n: usize) -> Vec<Object> {
        let docs: Vec<String> = (0..n)
            .map(|i| {
                let mut spec = json!({
                    "version": "1.0.0",
                    "containers": [{"name": format!("c-{i}"), "image": "busybox:1.36"}],
                    "parameters": [{"name": format!("p-{i}"), "annotation": format!("x.dev/p-{i}"), "default": "v"}],
                });
                if i > 0 {
                    spec["extends"] = json!(format!("t-{}@1.0.0", i - 1));
                }
                template(&format!("t-{i}"), None, spec)
            })
            .collect();
        objects(&docs.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn a_deep_chain_costs_linear_time_and_merges_nothing_up_front() {
        let objs = chain(10_000);
        let started = std::time::Instant::now();
        let (catalog, diagnostics) = build(&objs);
        let took = started.elapsed();
        // Each template is visited a bounded number of times: depths are
        // known without walking each lineage to its root.
        assert_eq!(catalog.depth(0), Some(0));
        assert_eq!(catalog.depth(9_999), Some(9_999));
        // Nothing is merged to find the findings: the merged templates are
        // built on use (an injection), one at a time.
        let built = |c: &Catalog| {
            c.resolved
                .iter()
                .filter(|r| r.get().is_some_and(Option::is_some))
                .count()
        };
        assert_eq!(built(&catalog), 0);
        // One finding for the whole lineage, at the first template too deep.
        let ids: Vec<&str> = diagnostics.iter().map(|d| d.rule.id).collect();
        assert_eq!(ids, ["INJ111"], "{diagnostics:?}");
        assert!(
            diagnostics[0].message.contains("nor the 9966 templates"),
            "{}",
            diagnostics[0].message
        );
        // The quadratic version took minutes and tens of gigabytes here (a
        // debug build); linear, it takes a few hundredths of a second.
        assert!(took.as_secs_f64() < 2.0, "{took:?}");
        // Past the limit nothing resolves, and asking builds nothing.
        assert!(catalog.resolved(9_999).is_none());
        assert!(catalog.resolved(33).is_none());
        assert_eq!(built(&catalog), 0);
        // At the limit: 33 templates merged, in one pass.
        let deepest = catalog.resolved(32).expect("32 `extends` resolve");
        assert_eq!(deepest.chain.len(), 33);
        assert_eq!(deepest.containers.len(), 33);
        assert_eq!(deepest.containers[0]["name"], "c-0");
        assert_eq!(deepest.parameters.len(), 33);
        assert_eq!(built(&catalog), 1);
    }

    #[test]
    fn depth_is_capped_at_32_extends() {
        let mut objs = chain(40);
        // A second branch at the limit, and one past it.
        objs.extend(objects(&[
            &template(
                "ok-branch",
                None,
                json!({"version": "1.0.0", "extends": "t-31@1.0.0"}),
            ),
            &template(
                "deep-branch",
                None,
                json!({"version": "1.0.0", "extends": "t-32@1.0.0"}),
            ),
        ]));
        let (catalog, diagnostics) = build(&objs);
        assert_eq!(MAX_INHERITANCE_DEPTH, 32);
        for i in 0..=32 {
            assert!(catalog.resolves(i), "{i}");
        }
        for i in 33..40 {
            assert!(!catalog.resolves(i), "{i}");
            assert!(catalog.resolved(i).is_none(), "{i}");
        }
        assert!(catalog.resolves(40));
        assert!(!catalog.resolves(41));
        assert_eq!(catalog.lineage(39).count(), 33, "walks stop at the limit");
        let found: Vec<(&str, &str)> = diagnostics
            .iter()
            .map(|d| (d.rule.id, d.path.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(
            found,
            [("INJ111", "/spec/extends"), ("INJ111", "/spec/extends")]
        );
        assert!(
            diagnostics[0]
                .message
                .contains("`t-33@1.0.0` extends `t-32@1.0.0`")
        );
        assert!(diagnostics[0].message.contains("nor the 6 templates"));
        assert!(
            diagnostics[1]
                .message
                .contains("`deep-branch@1.0.0` extends `t-32@1.0.0`")
        );
        assert!(diagnostics[1].message.contains("treats it as missing"));
        // A policy naming a template past the limit: treated as missing,
        // the decision denies (see `decide`); it is found all the same.
        assert_eq!(catalog.find(&r("t-39"), "shop"), Some(39));
    }

    #[test]
    fn lineages_below_a_cycle_or_a_missing_parent_have_no_depth() {
        let objs = objects(&[
            &template("a", None, json!({"version": "1.0.0", "extends": "b"})),
            &template("b", None, json!({"version": "1.0.0", "extends": "a"})),
            &template("under", None, json!({"version": "1.0.0", "extends": "a"})),
            &template(
                "orphan",
                None,
                json!({"version": "1.0.0", "extends": "gone"}),
            ),
            &template(
                "under-orphan",
                None,
                json!({"version": "1.0.0", "extends": "orphan"}),
            ),
            &template("root", None, json!({"version": "1.0.0"})),
        ]);
        let catalog = Catalog::new(&objs);
        let depths: Vec<Option<usize>> = (0..6).map(|i| catalog.depth(i)).collect();
        assert_eq!(depths, [None, None, None, None, None, Some(0)]);
        // A walk up a cycle ends.
        assert_eq!(catalog.lineage(0).count(), MAX_INHERITANCE_DEPTH + 1);
    }

    /// [`Catalog::parameter_at`] and [`Catalog::declares`] see what merging
    /// sees, without merging.
    #[test]
    fn parameters_along_a_lineage_are_the_merged_ones() {
        let objs = objects(&[
            &template(
                "base",
                None,
                json!({"version": "1.0.0", "parameters": [
                    {"name": "cpu", "annotation": "x.dev/cpu", "default": "100m", "pattern": "^[0-9]+m$"},
                    {"name": "level", "annotation": "x.dev/level", "default": "info"},
                ]}),
            ),
            &template(
                "mid",
                None,
                json!({"version": "1.0.0", "extends": "base", "parameters": [
                    {"name": "cpu", "default": "200m", "description": "first"},
                    {"name": "mode", "annotation": "x.dev/mode", "enum": ["a", "b"]},
                    // A second declaration overrides what it sets, as a child does.
                    {"name": "cpu", "default": "300m"},
                ]}),
            ),
            &template(
                "leaf",
                None,
                json!({"version": "1.0.0", "extends": "mid", "parameters": [
                    {"name": "level", "enum": ["info", "debug"]},
                ]}),
            ),
        ]);
        let catalog = Catalog::new(&objs);
        for i in 0..3 {
            let resolved = catalog.resolved(i).expect("resolves");
            let names: Vec<&str> = resolved
                .parameters
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            assert_eq!(catalog.parameter_names(i), names);
            for (k, p) in resolved.parameters.iter().enumerate() {
                let merged = catalog.parameter_at(i, &p.name).expect("declared");
                assert_eq!(&merged.parameter, p, "{i} {}", p.name);
                assert!(catalog.declares(i, &p.name));
                for field in ["annotation", "default", "pattern", "enum", "description"] {
                    assert_eq!(
                        merged.source(field),
                        catalog.source(resolved, &format!("/parameters/{k}/{field}")),
                        "{i} {} {field}",
                        p.name
                    );
                }
            }
        }
        let cpu = catalog.parameter_at(2, "cpu").unwrap();
        assert_eq!(cpu.parameter.default.as_deref(), Some("300m"));
        assert_eq!(cpu.parameter.description.as_deref(), Some("first"));
        assert_eq!(
            cpu.source("default"),
            Some((1, "/spec/parameters/2/default".into()))
        );
        assert_eq!(
            cpu.source("description"),
            Some((1, "/spec/parameters/0/description".into()))
        );
        assert!(!catalog.declares(0, "mode"));
        assert!(catalog.parameter_at(1, "nope").is_none());
    }

    #[test]
    fn values_are_checked_against_pattern_and_enum() {
        let param = |pattern: Option<&str>, allowed: Option<&[&str]>| Parameter {
            name: "p".into(),
            annotation: None,
            default: None,
            pattern: pattern.map(str::to_owned),
            allowed: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
            description: None,
        };
        let cpu = param(Some("^[0-9]+m?$"), None);
        assert_eq!(check_value(&cpu, "100m"), Ok(()));
        assert_eq!(
            check_value(&cpu, "1 core"),
            Err("`1 core` does not match the pattern `^[0-9]+m?$`".into())
        );
        let level = param(None, Some(&["info", "debug"]));
        assert_eq!(check_value(&level, "debug"), Ok(()));
        assert_eq!(
            check_value(&level, "trace"),
            Err("`trace` is not one of `info` and `debug`".into())
        );
        let broken = param(Some("(unclosed"), None);
        let err = check_value(&broken, "x").unwrap_err();
        assert!(
            err.contains("not a valid regular expression (unclosed group)"),
            "{err}"
        );
        assert_eq!(check_value(&param(None, None), "anything"), Ok(()));
    }
}
