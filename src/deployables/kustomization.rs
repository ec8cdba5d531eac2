//! A kustomization file, read for what this tool needs of it: which files
//! and directories it uses (discovery), what it refuses to run (remote
//! bases, plugins, Helm charts), and its patches and transformer fields,
//! each with its span (the source map).
//!
//! Kustomize itself builds the objects; nothing here re-implements it. A
//! file that Kustomize would reject is read as far as it goes, and the
//! build reports the rest with Kustomize's own message.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::source::absolute_normalized;
use crate::yaml::{Limits, Node, Value, parse_stream};

/// The names Kustomize looks for in a directory, in its order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of `dir`, if it has one.
pub fn file_in(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Whether `path` is named like a kustomization file.
pub fn is_kustomization_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| FILE_NAMES.contains(&n))
}

/// One kustomization file.
#[derive(Debug, Clone)]
pub struct Kustomization {
    /// The file (absolute, normalised).
    pub file: PathBuf,
    /// Its directory, against which its references resolve.
    pub dir: PathBuf,
    /// The file's text, and its first document (`None` when that is not
    /// YAML: Kustomize says why).
    pub text: String,
    pub root: Option<Node>,
    /// Where the file stops being YAML, if it does.
    pub problem: Option<Range<usize>>,
    /// `kind: Component`: applied by the kustomization that lists it, never
    /// on its own.
    pub component: bool,
    /// `resources` and the legacy `bases`.
    pub resources: Vec<Reference>,
    pub components: Vec<Reference>,
    /// `patchesStrategicMerge`, `patches` and `patchesJson6902`, in the
    /// order Kustomize applies them.
    pub patches: Vec<Patch>,
    /// Other files it reads: generators' `files` and `envs`, `crds`,
    /// `configurations`, `openapi`, `replacements`.
    pub files: Vec<Reference>,
    /// `generators`, `transformers` and `validators` entries: plugin
    /// configurations (builtin ones run; others are never run).
    pub plugins: Vec<Reference>,
    /// `helmCharts` entries (span of each).
    pub helm_charts: Vec<Range<usize>>,
}

/// A path or URL written in a kustomization, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub text: String,
    pub span: Range<usize>,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A remote base or file (a URL, `git@…`, `github.com/…?ref=…`): never fetched.
    Remote,
    /// A local path, absolute and normalised (it may not exist).
    Local(PathBuf),
    /// An inline configuration (a `transformers:` entry written as YAML).
    Inline,
}

/// One patch of a kustomization.
#[derive(Debug, Clone)]
pub struct Patch {
    /// Where it is declared: its `target:` when it has one, else the list entry.
    pub entry: Range<usize>,
    pub target: Option<Selector>,
    pub body: PatchBody,
}

#[derive(Debug, Clone)]
pub enum PatchBody {
    /// A patch file: its path and the span of the path in the kustomization.
    File { path: PathBuf, span: Range<usize> },
    /// A patch written in the kustomization: the scalar node holding it.
    Inline(Node),
}

/// A patch's `target:`: which objects it applies to. `name`, `namespace` and
/// `kind` are regular expressions anchored at both ends, as in Kustomize.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

impl Kustomization {
    /// Reads `file`; `None` when it cannot be read at all.
    pub fn read(file: &Path) -> Option<Kustomization> {
        let text = std::fs::read_to_string(file).ok()?;
        Some(Kustomization::parse(file, text))
    }

    /// Reads a kustomization's text (written at `file`).
    pub fn parse(file: &Path, text: String) -> Kustomization {
        let file = absolute_normalized(file);
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let parsed = parse_stream(&text, &Limits::default());
        let problem = parsed.problems.first().map(|p| p.span.clone());
        let root = parsed
            .documents
            .into_iter()
            .next()
            .map(|(_, root)| root)
            .filter(|root| root.as_map().is_some());
        let mut k = Kustomization {
            file,
            dir,
            text,
            root: None,
            problem,
            component: false,
            resources: Vec::new(),
            components: Vec::new(),
            patches: Vec::new(),
            files: Vec::new(),
            plugins: Vec::new(),
            helm_charts: Vec::new(),
        };
        if let Some(root) = &root {
            k.read_fields(root);
        }
        k.root = root;
        k
    }

    fn read_fields(&mut self, root: &Node) {
        self.component = root.get_str("kind") == Some("Component");
        for key in ["resources", "bases"] {
            self.resources.extend(self.references(root.get(key)));
        }
        self.components = self.references(root.get("components"));
        self.read_patches(root);
        for generator in ["configMapGenerator", "secretGenerator"] {
            for item in seq(root.get(generator)) {
                for key in ["files", "envs"] {
                    // `files` entries may be `key=path`.
                    for entry in seq(item.get(key)) {
                        if let Some(text) = entry.as_str() {
                            let path = text.split_once('=').map_or(text, |(_, p)| p);
                            self.files.push(self.local(path, entry.span.clone()));
                        }
                    }
                }
                if let Some(env) = item.get("env")
                    && let Some(text) = env.as_str()
                {
                    self.files.push(self.local(text, env.span.clone()));
                }
            }
        }
        for key in ["crds", "configurations"] {
            let refs = self.references(root.get(key));
            self.files.extend(refs);
        }
        if let Some(path) = root.get("openapi").and_then(|o| o.get("path"))
            && let Some(text) = path.as_str()
        {
            self.files.push(self.local(text, path.span.clone()));
        }
        for item in seq(root.get("replacements")) {
            if let Some(path) = item.get("path")
                && let Some(text) = path.as_str()
            {
                self.files.push(self.local(text, path.span.clone()));
            }
        }
        for key in ["generators", "transformers", "validators"] {
            for item in seq(root.get(key)) {
                match item.as_str() {
                    Some(text) if is_inline(text) => self.plugins.push(Reference {
                        text: text.to_owned(),
                        span: item.span.clone(),
                        target: Target::Inline,
                    }),
                    Some(text) => self.plugins.push(self.reference(text, item.span.clone())),
                    None => {}
                }
            }
        }
        self.helm_charts = seq(root.get("helmCharts"))
            .iter()
            .map(|n| n.span.clone())
            .collect();
    }

    /// In Kustomize's order: `patchesStrategicMerge`, `patches`, then
    /// `patchesJson6902` (each a builtin transformer of its own).
    fn read_patches(&mut self, root: &Node) {
        for item in seq(root.get("patchesStrategicMerge")) {
            let Some(text) = item.as_str() else { continue };
            let body = if is_inline(text) {
                PatchBody::Inline(item.clone())
            } else {
                PatchBody::File {
                    path: self.resolve(text),
                    span: item.span.clone(),
                }
            };
            self.patches.push(Patch {
                entry: item.span.clone(),
                target: None,
                body,
            });
        }
        let targeted = seq(root.get("patches"))
            .iter()
            .chain(seq(root.get("patchesJson6902")));
        for item in targeted {
            let target = item.get("target").map(selector);
            if let Some(body) = self.patch_body(item) {
                self.patches.push(Patch {
                    entry: item
                        .get("target")
                        .map_or(item.span.clone(), |t| t.span.clone()),
                    target,
                    body,
                });
            }
        }
    }

    fn patch_body(&self, item: &Node) -> Option<PatchBody> {
        if let Some(path) = item.get("path")
            && let Some(text) = path.as_str()
        {
            return Some(PatchBody::File {
                path: self.resolve(text),
                span: path.span.clone(),
            });
        }
        let patch = item.get("patch")?;
        patch.as_str()?;
        Some(PatchBody::Inline(patch.clone()))
    }

    fn references(&self, node: Option<&Node>) -> Vec<Reference> {
        seq(node)
            .iter()
            .filter_map(|item| Some(self.reference(item.as_str()?, item.span.clone())))
            .collect()
    }

    /// A resource or base: remote when it looks like a URL and is not a
    /// local path (as Kustomize decides: local first).
    fn reference(&self, text: &str, span: Range<usize>) -> Reference {
        let local = self.resolve(text);
        let target = if !local.exists() && is_remote(text) {
            Target::Remote
        } else {
            Target::Local(local)
        };
        Reference {
            text: text.to_owned(),
            span,
            target,
        }
    }

    fn local(&self, text: &str, span: Range<usize>) -> Reference {
        Reference {
            text: text.to_owned(),
            span,
            target: Target::Local(self.resolve(text)),
        }
    }

    fn resolve(&self, text: &str) -> PathBuf {
        absolute_normalized(&self.dir.join(text))
    }

    /// Span of the value of a top-level field (`namespace:`, `images:`…).
    pub fn field(&self, key: &str) -> Option<&Node> {
        self.root.as_ref()?.get(key)
    }

    /// Span of a top-level field's key.
    pub fn field_key_span(&self, key: &str) -> Option<Range<usize>> {
        Some(self.root.as_ref()?.entry(key)?.key_span.clone())
    }

    /// Every local directory or file it uses as a resource, base or component.
    pub fn local_uses(&self) -> impl Iterator<Item = (&Reference, &Path)> {
        self.resources
            .iter()
            .chain(&self.components)
            .filter_map(|r| match &r.target {
                Target::Local(path) => Some((r, path.as_path())),
                _ => None,
            })
    }

    /// Every file it reads besides resources: patches, generator inputs,
    /// plugin configurations.
    pub fn read_files(&self) -> impl Iterator<Item = &Path> {
        let patches = self.patches.iter().filter_map(|p| match &p.body {
            PatchBody::File { path, .. } => Some(path.as_path()),
            PatchBody::Inline(_) => None,
        });
        let others = self
            .files
            .iter()
            .chain(&self.plugins)
            .filter_map(|r| match &r.target {
                Target::Local(path) => Some(path.as_path()),
                _ => None,
            });
        patches.chain(others)
    }
}

fn seq(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).unwrap_or_default()
}

fn selector(node: &Node) -> Selector {
    let get = |key: &str| node.get_str(key).map(str::to_owned);
    Selector {
        group: get("group"),
        version: get("version"),
        kind: get("kind"),
        name: get("name"),
        namespace: get("namespace"),
        label_selector: get("labelSelector"),
        annotation_selector: get("annotationSelector"),
    }
}

/// A list entry that is YAML rather than a path (an inline patch or plugin
/// configuration).
fn is_inline(text: &str) -> bool {
    text.contains('\n') || text.trim_start().starts_with('{') || text.contains(": ")
}

/// Whether a reference is a remote location Kustomize would fetch: a URL, an
/// scp-like Git address, a `git::`/`gh:` prefix, or a host-first path with a
/// `?ref=` or `//` subdirectory (`github.com/org/repo//dir?ref=v1`).
pub fn is_remote(text: &str) -> bool {
    let text = text.trim();
    if text.contains("://") || text.starts_with("git@") || text.starts_with("git::") {
        return true;
    }
    if text.starts_with("gh:") {
        return true;
    }
    let first = text.split('/').next().unwrap_or_default();
    let host_like = first.contains('.') && !first.starts_with('.') && text.contains('/');
    host_like && (text.contains("?ref=") || text.contains("//") || text.contains("?version="))
}

impl Selector {
    /// Whether the selector matches an object of this identity. `names`
    /// holds every name the object has had on its way up the chain (as
    /// written, and with prefixes and suffixes added), since a patch sees
    /// the name of its own level.
    pub fn matches(
        &self,
        api_version: &str,
        kind: &str,
        names: &[&str],
        namespace: Option<&str>,
        labels: &Node,
        annotations: &Node,
    ) -> bool {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let exact = |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| w == have);
        if !exact(&self.group, group) || !exact(&self.version, version) {
            return false;
        }
        if let Some(want) = &self.kind
            && !anchored_match(want, kind)
        {
            return false;
        }
        if let Some(want) = &self.name
            && !names.iter().any(|n| anchored_match(want, n))
        {
            return false;
        }
        if let Some(want) = &self.namespace
            && !anchored_match(want, namespace.unwrap_or_default())
        {
            return false;
        }
        if let Some(selector) = &self.label_selector
            && !set_selector_matches(selector, labels)
        {
            return false;
        }
        if let Some(selector) = &self.annotation_selector
            && !set_selector_matches(selector, annotations)
        {
            return false;
        }
        true
    }
}

/// Kustomize compiles a target's name, namespace and kind as `^…$`
/// regular expressions; an invalid one matches only itself. Most are plain
/// names, compared as they are; the others are compiled once per thread.
fn anchored_match(pattern: &str, value: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/');
    if pattern.chars().all(plain) {
        return pattern == value;
    }
    thread_local! {
        static COMPILED: std::cell::RefCell<std::collections::HashMap<String, Option<regex::Regex>>> =
            std::cell::RefCell::default();
    }
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let re = compiled
            .entry(pattern.to_owned())
            .or_insert_with(|| regex::Regex::new(&format!("^(?:{pattern})$")).ok());
        match re {
            Some(re) => re.is_match(value),
            None => pattern == value,
        }
    })
}

/// A label selector in its string form (`app=web,tier!=db,env in (a,b),!x`)
/// against a map of labels or annotations.
fn set_selector_matches(selector: &str, map: &Node) -> bool {
    let value_of = |key: &str| map.get_str(key);
    split_requirements(selector).iter().all(|req| {
        let req = req.trim();
        if req.is_empty() {
            return true;
        }
        if let Some(key) = req.strip_prefix('!') {
            return value_of(key.trim()).is_none();
        }
        if let Some((key, rest)) = req.split_once(" notin ") {
            let set = set_values(rest);
            return value_of(key.trim()).is_none_or(|v| !set.contains(&v));
        }
        if let Some((key, rest)) = req.split_once(" in ") {
            let set = set_values(rest);
            return value_of(key.trim()).is_some_and(|v| set.contains(&v));
        }
        if let Some((key, value)) = req.split_once("!=") {
            return value_of(key.trim()) != Some(value.trim());
        }
        if let Some((key, value)) = req.split_once("==").or_else(|| req.split_once('=')) {
            return value_of(key.trim()) == Some(value.trim());
        }
        value_of(req).is_some()
    })
}

/// Splits requirements at commas outside parentheses.
fn split_requirements(selector: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&selector[start..]);
    out
}

fn set_values(text: &str) -> Vec<&str> {
    text.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect()
}

/// The string value of a scalar node, whatever YAML type it resolved to.
pub fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Kustomization {
        Kustomization::parse(
            Path::new("/repo/overlays/prod/kustomization.yaml"),
            text.into(),
        )
    }

    #[test]
    fn references_patches_and_plugins() {
        let k = parse(
            "resources:\n- ../../base\n- https://github.com/org/repo//app?ref=v1\n- github.com/org/repo/app?ref=v1\nbases: [../old]\ncomponents: [../../components/mesh]\n\
patches:\n- path: patch.yaml\n- target: {kind: Deployment, name: web}\n  patch: |-\n    - op: add\n      path: /x\n      value: 1\n\
patchesStrategicMerge:\n- smp.yaml\npatchesJson6902:\n- target: {version: v1, kind: Service, name: s}\n  path: ops.yaml\n\
configMapGenerator:\n- name: c\n  files: [k=conf/a.txt, b.txt]\n  envs: [e.env]\ntransformers:\n- t.yaml\n- |\n  apiVersion: builtin\n  kind: PrefixSuffixTransformer\nhelmCharts:\n- name: x\n",
        );
        let targets: Vec<_> = k.resources.iter().map(|r| r.target.clone()).collect();
        assert_eq!(
            targets,
            vec![
                Target::Local(PathBuf::from("/repo/base")),
                Target::Remote,
                Target::Remote,
                Target::Local(PathBuf::from("/repo/overlays/old")),
            ]
        );
        assert_eq!(
            k.components[0].target,
            Target::Local(PathBuf::from("/repo/components/mesh"))
        );
        assert_eq!(k.patches.len(), 4);
        // Kustomize's order: patchesStrategicMerge, patches, patchesJson6902.
        assert!(k.patches[0].target.is_none());
        assert!(
            matches!(&k.patches[1].body, PatchBody::File { path, .. } if path == Path::new("/repo/overlays/prod/patch.yaml"))
        );
        assert!(
            matches!(&k.patches[2].body, PatchBody::Inline(node) if node.as_str().is_some_and(|s| s.starts_with("- op: add")))
        );
        assert_eq!(
            k.patches[2].target.as_ref().and_then(|t| t.name.as_deref()),
            Some("web")
        );
        assert_eq!(
            k.patches[3].target.as_ref().and_then(|t| t.kind.as_deref()),
            Some("Service")
        );
        let files: Vec<_> = k.read_files().map(Path::to_path_buf).collect();
        assert!(files.contains(&PathBuf::from("/repo/overlays/prod/conf/a.txt")));
        assert!(files.contains(&PathBuf::from("/repo/overlays/prod/e.env")));
        assert!(files.contains(&PathBuf::from("/repo/overlays/prod/t.yaml")));
        assert_eq!(k.plugins.len(), 2);
        assert_eq!(k.plugins[1].target, Target::Inline);
        assert_eq!(k.helm_charts.len(), 1);
    }

    #[test]
    fn components_and_broken_files() {
        let k = parse("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n");
        assert!(k.component);
        let k = parse("resources: [\n");
        assert!(k.root.is_none() && k.resources.is_empty());
    }

    #[test]
    fn remote_references() {
        for remote in [
            "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1",
            "git@github.com:org/repo.git//base",
            "github.com/org/repo//base?ref=main",
            "git::https://example.com/repo",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["../base", "deploy.yaml", "./a/b", "../v1.2/base"] {
            assert!(!is_remote(local), "{local}");
        }
    }

    #[test]
    fn selectors_match_as_kustomize_does() {
        let labels = parse_stream("{app: web, tier: front}", &Limits::default())
            .documents
            .remove(0)
            .1;
        let none = Node::from_json(&serde_json::json!({}));
        let target = Selector {
            kind: Some("Deploy.*".into()),
            name: Some("web".into()),
            label_selector: Some("app=web,tier in (front, back),!gone".into()),
            ..Selector::default()
        };
        assert!(target.matches(
            "apps/v1",
            "Deployment",
            &["prod-web", "web"],
            None,
            &labels,
            &none
        ));
        assert!(!target.matches("apps/v1", "Deployment", &["prod-web"], None, &labels, &none));
        let group = Selector {
            group: Some("apps".into()),
            ..Selector::default()
        };
        assert!(!group.matches("v1", "Service", &["web"], None, &labels, &none));
    }
}
