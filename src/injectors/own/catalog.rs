//! The template catalogue: every SidecarTemplate by name and version,
//! inheritance resolved.
//!
//! Templates are indexed by scope (a namespace, or cluster-wide) and name,
//! versions highest first. [`Catalog::find`] sees a namespace's own templates
//! first, then the cluster-wide ones; a namespaced template is invisible from
//! other namespaces. Inheritance (`extends`) is resolved once, in
//! [`Catalog::build`], for every template: the parent links form a graph with
//! at most one edge per template, so cycles are found by one colouring walk
//! and each template is merged onto its already resolved parent.
//!
//! The rules about templates (INJ101 for `extends`, INJ102, INJ104 for
//! defaults, INJ108) read the facts recorded here; their messages live in
//! their own modules under `rules/`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{OnceLock, RwLock};

use serde_json::Value;

use super::interpolate::escape_pointer;
use super::template::{Parameter, Section, Template, TemplateRef};
use crate::diagnostic::Diagnostic;
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

    /// A template with no parent: itself merged onto nothing.
    fn empty(index: usize, template: &Template) -> ResolvedTemplate {
        ResolvedTemplate {
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
        }
    }

    /// Merges the child `template` (index `index`) onto `parent`.
    fn merge(parent: Option<&ResolvedTemplate>, index: usize, template: &Template) -> Self {
        let mut r = match parent {
            Some(p) => {
                let mut r = p.clone();
                r.index = index;
                r.name = template.name.clone();
                r.namespace = template.namespace.clone();
                r.version = template.version.clone();
                r
            }
            None => ResolvedTemplate::empty(index, template),
        };
        r.chain.insert(0, index);
        let spec = &template.spec;
        if let Some(native) = spec.native_sidecar {
            r.native_sidecar = native;
            r.origins.insert("nativeSidecar".into(), index);
        }
        if let Some(intercepts) = spec.intercepts_traffic {
            r.intercepts_traffic = intercepts;
            r.origins.insert("interceptsTraffic".into(), index);
        }
        for param in &spec.parameters {
            r.merge_parameter(param, index);
        }
        for section in Section::ALL {
            for entry in template.section(section) {
                r.merge_entry(section, entry, index);
            }
        }
        for (key, value) in &spec.pod_annotations {
            r.pod_annotations.insert(key.clone(), value.clone());
            r.origins.insert(format!("podAnnotations/{key}"), index);
        }
        for (key, value) in &spec.pod_labels {
            r.pod_labels.insert(key.clone(), value.clone());
            r.origins.insert(format!("podLabels/{key}"), index);
        }
        r
    }

    fn merge_parameter(&mut self, param: &Parameter, index: usize) {
        let name = &param.name;
        self.origins.insert(format!("parameters/{name}"), index);
        let fields = [
            ("annotation", param.annotation.is_some()),
            ("default", param.default.is_some()),
            ("pattern", param.pattern.is_some()),
            ("enum", param.allowed.is_some()),
            ("description", param.description.is_some()),
        ];
        for (field, set) in fields {
            if set {
                self.origins
                    .insert(format!("parameters/{name}/{field}"), index);
            }
        }
        match self.parameters.iter_mut().find(|p| p.name == *name) {
            Some(old) => {
                let p = param.clone();
                old.annotation = p.annotation.or(old.annotation.take());
                old.default = p.default.or(old.default.take());
                old.pattern = p.pattern.or(old.pattern.take());
                old.allowed = p.allowed.or(old.allowed.take());
                old.description = p.description.or(old.description.take());
            }
            None => self.parameters.push(param.clone()),
        }
    }

    fn merge_entry(&mut self, section: Section, entry: &Value, index: usize) {
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
        let list = self.section_mut(section);
        let existing = list
            .iter_mut()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(name));
        match (existing, entry) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                for (field, value) in new {
                    old.insert(field.clone(), value.clone());
                }
            }
            (Some(old), _) => *old = entry.clone(),
            (None, _) => list.push(entry.clone()),
        }
    }
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
    resolved: Vec<Option<ResolvedTemplate>>,
}

impl Catalog {
    /// Reads every SidecarTemplate among `objects`, resolves inheritance and
    /// reports INJ101 (unknown parent), INJ102 (cycles), INJ104 (a default
    /// failing its pattern/enum) and INJ108 (unknown `${…}`).
    pub fn build(objects: &[Object]) -> (Catalog, Vec<Diagnostic>) {
        let catalog = Catalog::new(objects);
        let diagnostics = catalog.diagnostics(objects, "default");
        (catalog, diagnostics)
    }

    /// The catalogue without its findings.
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
        catalog.resolve_all();
        catalog
    }

    /// The findings about the templates: INJ101 (`extends`), INJ102, INJ104
    /// (defaults and patterns), INJ108.
    pub fn diagnostics(&self, objects: &[Object], default_namespace: &str) -> Vec<Diagnostic> {
        use crate::rules::{
            parameter_value_rejected, template_inheritance_cycle, unknown_interpolation,
            unknown_template,
        };
        let mut out = unknown_template::check_extends(self, objects, default_namespace);
        out.extend(template_inheritance_cycle::check(
            self,
            objects,
            default_namespace,
        ));
        out.extend(parameter_value_rejected::check_defaults(
            self,
            objects,
            default_namespace,
        ));
        out.extend(unknown_interpolation::check(
            self,
            objects,
            default_namespace,
        ));
        out
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

    /// The merged template of `index`; `None` when its inheritance is broken.
    pub fn resolved(&self, index: usize) -> Option<&ResolvedTemplate> {
        self.resolved.get(index)?.as_ref()
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
        match did_you_mean(name, visible) {
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
                let key = unescape_pointer(second?);
                let t = resolved.origin(&format!("{section}/{key}"))?;
                Some((t, format!("/spec/{section}/{}", second?)))
            }
            "parameters" => {
                let name = &resolved
                    .parameters
                    .get(second?.parse::<usize>().ok()?)?
                    .name;
                let origin_key = match field {
                    Some(f) => format!("parameters/{name}/{}", unescape_pointer(f)),
                    None => format!("parameters/{name}"),
                };
                let t = resolved.origin(&origin_key)?;
                let k = self.templates[t]
                    .spec
                    .parameters
                    .iter()
                    .position(|p| p.name == *name)?;
                Some((t, format!("/spec/parameters/{k}{tail}")))
            }
            _ => {
                let s = Section::from_key(section)?;
                let entry = resolved.section(s).get(second?.parse::<usize>().ok()?)?;
                let name = entry.get("name")?.as_str()?;
                let origin_key = match field {
                    Some(f) => format!("{section}/{name}/{}", unescape_pointer(f)),
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

    /// Resolves every template onto its resolved parent; templates in or
    /// below a cycle, or below a missing parent, resolve to `None`.
    fn resolve_all(&mut self) {
        let n = self.templates.len();
        // Outer `None`: not computed yet.
        let mut done: Vec<Option<Option<ResolvedTemplate>>> = vec![None; n];
        for cycle in &self.cycles {
            for &i in cycle {
                done[i] = Some(None);
            }
        }
        for start in 0..n {
            let mut pending = Vec::new();
            let mut current = start;
            let mut base: Option<Option<usize>> = Some(None);
            loop {
                if done[current].is_some() {
                    base = Some(Some(current));
                    break;
                }
                pending.push(current);
                match &self.parents[current] {
                    Parent::Found(p) => current = *p,
                    Parent::None => break,
                    Parent::Missing(_) => {
                        base = None;
                        break;
                    }
                }
            }
            // `base`: `None` broken; `Some(None)` a root; `Some(Some(i))` a
            // computed ancestor.
            let mut parent: Option<ResolvedTemplate> = None;
            let mut broken = match base {
                None => true,
                Some(None) => false,
                Some(Some(i)) => {
                    parent = done[i].clone().flatten();
                    parent.is_none()
                }
            };
            for &i in pending.iter().rev() {
                if broken {
                    done[i] = Some(None);
                    continue;
                }
                let merged = ResolvedTemplate::merge(parent.as_ref(), i, &self.templates[i]);
                done[i] = Some(Some(merged.clone()));
                parent = Some(merged);
                broken = false;
            }
        }
        self.resolved = done.into_iter().map(Option::flatten).collect();
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

/// The candidate closest to `input`, when it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::levenshtein(&input.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Undoes [`escape_pointer`].
pub(crate) fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// The pointer segment for `text` (re-exported for the rules).
pub(crate) fn pointer_segment(text: &str) -> String {
    escape_pointer(text)
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

/// INJ101 for a policy's `template` and `rollout.template` (the engine calls
/// this for every policy).
pub fn check_policy_references(
    ws: &crate::load::Workspace,
    catalog: &Catalog,
    policy: &super::policy::Policy,
) -> Vec<Diagnostic> {
    crate::rules::unknown_template::check_policy(catalog, &ws.objects, policy)
}

/// Every template finding of a run (INJ101 for `extends`, INJ102, INJ104 for
/// defaults, INJ108): what `lint` calls.
pub fn check(objects: &[Object], default_namespace: &str) -> Vec<Diagnostic> {
    Catalog::new(objects).diagnostics(objects, default_namespace)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
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
        let (catalog, diagnostics) = Catalog::build(&objs);
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
        let (catalog, diagnostics) = Catalog::build(&objs);
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
        let (catalog, diagnostics) = Catalog::build(&objs);
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
        let (catalog, diagnostics) = Catalog::build(&objs);
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
