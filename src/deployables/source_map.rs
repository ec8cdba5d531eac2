//! The source map of rendered objects: a span in a rendered object maps to
//! the file and line that wrote its value, so that a finding about it
//! points there.
//!
//! For an object built by Kustomize, the writers of a field are, from the
//! last applied to the first: each kustomization on the chain from the root
//! down to the one that lists the resource, outermost first, with (in that
//! order) its builtin transformers (`namespace:`, `images:`, `labels:`,
//! `commonAnnotations:`, `replicas:`, `namePrefix:`…), its patches (last
//! first) and its components; then the resource file itself. The first
//! writer that sets the field's path is the one reported. For Helm output
//! the template file is known (`# Source:`); the line is the first place
//! where the field's keys appear in order, as no mapping from rendered
//! lines to template lines exists.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::kustomization::{Kustomization, Patch, PatchBody, scalar_text};
use super::layout;
use super::names::Names;
use super::read::Origins;
use crate::model::Object;
use crate::source::{FileId, FileSpan, SourceMap};
use crate::yaml::{FieldPath, Limits, Node, Step, Value, parse_stream};

/// A place in a node tree found for a path: the node, and its key's span.
struct Found<'n> {
    node: &'n Node,
    key: Option<Range<usize>>,
    /// The whole path was found (not just an ancestor).
    complete: bool,
}

/// Follows `path` in `root` as far as it goes; list items by name when the
/// path's item has one, else by index.
fn follow<'n>(root: &'n Node, steps: &[Step]) -> Found<'n> {
    let mut node = root;
    let mut key = None;
    for step in steps {
        let next = match (step, &node.value) {
            (Step::Key(k), Value::Map(_)) => {
                node.entry(k).map(|e| (&e.value, Some(e.key_span.clone())))
            }
            (Step::Item { index, name }, Value::Seq(items)) => match name {
                Some(name) => items.iter().find(|i| i.get_str("name") == Some(name)),
                None => items.get(*index),
            }
            .map(|item| (item, None)),
            _ => None,
        };
        match next {
            Some((n, k)) => {
                node = n;
                key = k;
            }
            None => {
                return Found {
                    node,
                    key,
                    complete: false,
                };
            }
        }
    }
    Found {
        node,
        key,
        complete: true,
    }
}

/// Where a finding lands when mapped: a file of the user's, and a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub path: PathBuf,
    pub span: Range<usize>,
}

/// A span of a rendering, mapped to the user's file that wrote it.
#[derive(Debug, Clone)]
pub struct Mapped<'o> {
    /// The place in the user's file.
    pub at: FileSpan,
    /// The field path (`/spec/template/…`, list items by name) of the node
    /// the span was in; empty for the object as a whole.
    pub path: String,
    /// The rendered object the span was in.
    pub object: &'o Object,
}

/// Maps spans in rendered files to the files that wrote them.
pub struct SourceMapper<'a> {
    origins: &'a mut Origins,
    files: FileCache,
}

/// User files read for the source map: text and documents, once each.
struct FileCache {
    names: Names,
    parsed: HashMap<PathBuf, Vec<Node>>,
    texts: HashMap<PathBuf, String>,
}

impl<'a> SourceMapper<'a> {
    pub fn new(origins: &'a mut Origins) -> Self {
        let names = origins.names.clone();
        SourceMapper {
            origins,
            files: FileCache {
                names,
                parsed: HashMap::new(),
                texts: HashMap::new(),
            },
        }
    }

    /// Whether the run has renderings (else nothing is mapped).
    pub fn has_renderings(&self) -> bool {
        !self.origins.rendered.is_empty()
    }

    /// The user's place for a span in a rendering (`None` when `at` is not
    /// in one, or nothing can be found).
    pub fn place(
        &mut self,
        objects: &[Object],
        sources: &mut SourceMap,
        at: &FileSpan,
    ) -> Option<FileSpan> {
        self.map_span(objects, sources, at).map(|mapped| mapped.at)
    }

    /// [`SourceMapper::place`], with the field path of the node `at` was
    /// about and the object it was in. `objects` are the objects of the
    /// run (or environment) `at` is in; new files go into `sources`.
    pub fn map_span<'o>(
        &mut self,
        objects: &'o [Object],
        sources: &mut SourceMap,
        at: &FileSpan,
    ) -> Option<Mapped<'o>> {
        let rendered = self.origins.rendered.get(&at.file)?;
        let object = containing(objects, at)?;
        let path = FieldPath::covering(&object.root, &at.span);
        let pointer = path.pointer();
        let start = object.root.span.start;
        let place = if let Some(source) = rendered.helm_source_at(start) {
            helm_place(
                &mut self.files,
                &self.origins.charts,
                source,
                rendered.dir.as_deref(),
                &path,
            )
        } else {
            let origin = rendered.origin_at(start).cloned().unwrap_or_default();
            kustomize_place(
                &mut self.files,
                &self.origins.kustomizations,
                object,
                rendered.root.as_deref(),
                &origin,
                &path,
            )
        };
        let place = place?;
        let file = self.origins.file_id_in(sources, &place.path)?;
        Some(Mapped {
            at: FileSpan {
                file,
                span: place.span,
            },
            path: pointer,
            object,
        })
    }
}

fn kustomize_place(
    files: &mut FileCache,
    known: &layout::Kustomizations,
    object: &Object,
    root: Option<&Path>,
    origin: &super::origin::DocumentOrigin,
    path: &FieldPath,
) -> Option<Place> {
    // Generated objects: the generator's entry.
    if origin.path.is_none()
        && let Some(configured_in) = &origin.configured_in
    {
        let dir = configured_in.parent()?;
        let k = known.get(dir)?;
        let span = generator_entry(k, &object.name)
            .unwrap_or_else(|| k.root.as_ref().map_or(0..0, |r| r.span.clone()));
        return Some(Place {
            path: k.file.clone(),
            span,
        });
    }
    let resource = origin.path.clone();
    let chain = match (root, &resource) {
        (Some(root), Some(resource)) => layout::chain_to(root, resource, known),
        _ => Vec::new(),
    };
    let names = layout::names_at_levels(&object.name, &chain, known);
    // Writers from the last applied to the first.
    for (level, dir) in chain.iter().enumerate() {
        let Some(k) = known.get(dir).cloned() else {
            continue;
        };
        if let Some(place) = transformer_place(&k, object, &names, path) {
            return Some(place);
        }
        let level_names: Vec<String> = names[level..].to_vec();
        for patch in k.patches.iter().rev() {
            if let Some(place) = patch_place(files, &k, patch, object, &level_names, path) {
                return Some(place);
            }
        }
        for (_, component) in k.components.iter().rev().filter_map(|c| match &c.target {
            super::kustomization::Target::Local(p) => Some((c, p.clone())),
            _ => None,
        }) {
            let Some(c) = known.get(&component).cloned() else {
                continue;
            };
            if let Some(place) = transformer_place(&c, object, &names, path) {
                return Some(place);
            }
            for patch in c.patches.iter().rev() {
                if let Some(place) = patch_place(files, &c, patch, object, &level_names, path) {
                    return Some(place);
                }
            }
        }
    }
    // The resource file itself.
    if let Some(resource) = &resource
        && let Some(place) = resource_place(files, resource, object, &names, path)
    {
        return Some(place);
    }
    // Nothing better: the root's kustomization.
    let k = known.get(root?)?;
    Some(Place {
        path: k.file.clone(),
        span: k
            .root
            .as_ref()
            .and_then(|r| r.as_map()?.first().map(|e| e.key_span.clone()))
            .unwrap_or(0..0),
    })
}

/// The node for `path` in the resource file's document of `object`,
/// or its deepest existing ancestor.
fn resource_place(
    files: &mut FileCache,
    resource: &Path,
    object: &Object,
    names: &[String],
    path: &FieldPath,
) -> Option<Place> {
    let docs = files.parsed(resource)?;
    let same_kind: Vec<&Node> = docs
        .iter()
        .filter(|d| d.get_str("kind") == Some(object.kind.as_str()))
        .collect();
    let doc = same_kind
        .iter()
        .find(|d| {
            d.get("metadata")
                .and_then(|m| m.get_str("name"))
                .is_some_and(|n| names.iter().any(|x| x == n))
        })
        .or_else(|| (same_kind.len() == 1).then(|| &same_kind[0]))
        .copied()?;
    let found = follow(doc, &path.steps);
    let span = if found.complete && path.on_key {
        found.key.unwrap_or_else(|| found.node.span.clone())
    } else if found.complete {
        found.node.span.clone()
    } else {
        // An ancestor: point at its key, where the missing field would go.
        found.key.unwrap_or_else(|| found.node.span.clone())
    };
    Some(Place {
        path: resource.to_path_buf(),
        span,
    })
}

/// Where `patch` (of kustomization `k`) sets `path` of `object`, if it does.
fn patch_place(
    files: &mut FileCache,
    k: &Kustomization,
    patch: &Patch,
    object: &Object,
    names: &[String],
    path: &FieldPath,
) -> Option<Place> {
    let (file, docs, inline) = match &patch.body {
        PatchBody::File { path: file, .. } => (file.clone(), files.parsed(file)?.clone(), None),
        PatchBody::Inline(node) => {
            let text = node.as_str()?;
            let docs: Vec<Node> = parse_stream(text, &Limits::default())
                .documents
                .into_iter()
                .map(|(_, d)| d)
                .collect();
            let inline = InlineText::new(&k.text, node, text);
            (k.file.clone(), docs, Some(inline))
        }
    };
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let empty = Node::from_json(&serde_json::json!({}));
    let meta = object.root.get("metadata");
    let labels = meta.and_then(|m| m.get("labels")).unwrap_or(&empty);
    let annotations = meta.and_then(|m| m.get("annotations")).unwrap_or(&empty);
    if let Some(target) = &patch.target
        && !target.matches(
            &object.api_version,
            &object.kind,
            &name_refs,
            object.namespace.as_deref(),
            labels,
            annotations,
        )
    {
        return None;
    }
    let mut hit = None;
    for doc in &docs {
        let span = match &doc.value {
            // JSON 6902: a list of operations.
            Value::Seq(ops) if patch.target.is_some() => json6902_place(ops, path),
            // A strategic-merge patch names its object (`apiVersion`,
            // `kind`, `metadata.name`…) to find it; it does not write those.
            Value::Map(_) if names_the_object(path) => None,
            // A mapping is merged, not replaced: a finding about the whole
            // of it belongs to what defines it (unless the patch replaces it).
            Value::Map(_) if merges_into(object, path, doc) => None,
            Value::Map(_) => {
                if patch.target.is_none() && !smp_targets(doc, object, &name_refs) {
                    continue;
                }
                smp_place(doc, path)
            }
            _ => None,
        };
        if span.is_some() {
            hit = span;
        }
    }
    let span = hit?;
    let span = match &inline {
        Some(inline) => inline.to_source(span),
        None => span,
    };
    Some(Place { path: file, span })
}

fn helm_place(
    files: &mut FileCache,
    charts: &std::collections::BTreeMap<String, PathBuf>,
    source: &str,
    dir: Option<&Path>,
    path: &FieldPath,
) -> Option<Place> {
    let (chart, rest) = source.split_once('/')?;
    let mut candidates = Vec::new();
    if let Some(dir) = dir {
        if dir.file_name().is_some_and(|n| n == chart)
            || charts.get(chart).is_some_and(|c| c == dir)
        {
            candidates.push(dir.join(rest));
        }
        candidates.push(dir.join(source));
    }
    if let Some(chart_dir) = charts.get(chart) {
        candidates.push(chart_dir.join(rest));
    }
    candidates.push(crate::source::absolute_normalized(Path::new(source)));
    let file = candidates.into_iter().find(|c| c.is_file())?;
    let text = files.text(&file)?.to_owned();
    let span = find_keys(&text, &path.keys()).unwrap_or(0..0);
    Some(Place { path: file, span })
}

impl FileCache {
    fn text(&mut self, path: &Path) -> Option<&str> {
        if !self.texts.contains_key(path) {
            let text = std::fs::read_to_string(self.names.real(path))
                .or_else(|_| std::fs::read_to_string(path))
                .ok()?;
            self.texts.insert(path.to_path_buf(), text);
        }
        self.texts.get(path).map(String::as_str)
    }

    fn parsed(&mut self, path: &Path) -> Option<&Vec<Node>> {
        if !self.parsed.contains_key(path) {
            let text = self.text(path)?.to_owned();
            let docs = parse_stream(&text, &Limits::default())
                .documents
                .into_iter()
                .map(|(_, d)| d)
                .collect();
            self.parsed.insert(path.to_path_buf(), docs);
        }
        self.parsed.get(path)
    }
}

impl Origins {
    /// [`Origins::file_id`] for a source map alone.
    pub fn file_id_in(&mut self, sources: &mut SourceMap, path: &Path) -> Option<FileId> {
        if let Some(id) = self.files.get(path) {
            return Some(*id);
        }
        let text = std::fs::read_to_string(self.names.real(path))
            .or_else(|_| std::fs::read_to_string(path))
            .ok()?;
        let id = sources.add(crate::source::SourceFile::new(
            self.names.display(path),
            text,
        ));
        self.files.insert(path.to_path_buf(), id);
        Some(id)
    }
}

/// The object whose document holds `at`.
fn containing<'o>(objects: &'o [Object], at: &FileSpan) -> Option<&'o Object> {
    objects
        .iter()
        .filter(|o| {
            o.file == at.file
                && o.root.span.start <= at.span.start
                && at.span.start <= o.root.span.end
        })
        .min_by_key(|o| o.root.span.len())
}

/// Whether `path` is one of the fields that identify an object (or the
/// object as a whole), which a patch repeats to find its object.
fn names_the_object(path: &FieldPath) -> bool {
    matches!(
        path.shape().as_slice(),
        [] | ["apiVersion"]
            | ["kind"]
            | ["metadata"]
            | ["metadata", "name"]
            | ["metadata", "namespace"]
    )
}

/// Whether `path` names a mapping of the object that a strategic-merge
/// patch `doc` only merges into (it has the mapping, without `$patch: replace`).
fn merges_into(object: &Object, path: &FieldPath, doc: &Node) -> bool {
    if path.on_key {
        return false;
    }
    let rendered = follow(&object.root, &path.steps);
    if !rendered.complete || rendered.node.as_map().is_none() {
        return false;
    }
    let patched = follow(doc, &path.steps);
    patched.complete
        && patched.node.as_map().is_some()
        && patched.node.get_str("$patch") != Some("replace")
}

/// Whether a strategic-merge patch document (no `target:`) is for `object`.
fn smp_targets(doc: &Node, object: &Object, names: &[&str]) -> bool {
    let kind_ok = doc.get_str("kind").is_none_or(|k| k == object.kind);
    let name_ok = doc
        .get("metadata")
        .and_then(|m| m.get_str("name"))
        .is_none_or(|n| names.contains(&n));
    kind_ok && name_ok
}

/// Where a strategic-merge patch sets `path`: the node, or (for a list
/// without names, which the patch replaces whole) the list.
fn smp_place(doc: &Node, path: &FieldPath) -> Option<Range<usize>> {
    let mut node = doc;
    let mut key = None;
    for step in &path.steps {
        match (step, &node.value) {
            (Step::Key(k), Value::Map(_)) => {
                let entry = node.entry(k)?;
                key = Some(entry.key_span.clone());
                node = &entry.value;
            }
            (Step::Item { index, name }, Value::Seq(items)) => {
                let item = match name {
                    Some(name) => items.iter().find(|i| i.get_str("name") == Some(name)),
                    None => items.get(*index),
                };
                match item {
                    Some(item) => {
                        node = item;
                        key = None;
                    }
                    // A list of unnamed items is replaced as a whole.
                    None if name.is_none() => {
                        return Some(key.unwrap_or_else(|| node.span.clone()));
                    }
                    None => return None,
                }
            }
            _ => return None,
        }
    }
    if path.on_key {
        key.or_else(|| Some(node.span.clone()))
    } else {
        Some(node.span.clone())
    }
}

/// Where JSON 6902 operations set `path`: the value of the last `add`,
/// `replace`, `copy` or `move` whose path is `path` or one of its ancestors.
fn json6902_place(ops: &[Node], path: &FieldPath) -> Option<Range<usize>> {
    let mut hit = None;
    for op in ops {
        let kind = op.get_str("op").unwrap_or_default();
        let target_key = match kind {
            "add" | "replace" => "path",
            "copy" | "move" => "path",
            _ => continue,
        };
        let Some(target) = op.get(target_key) else {
            continue;
        };
        let Some(pointer) = target.as_str() else {
            continue;
        };
        let segments = crate::yaml::pointer::segments(pointer);
        let Some(rest) = pointer_prefix(&segments, &path.steps) else {
            continue;
        };
        let span = match op.get("value") {
            // The op's path names the very key a finding is about.
            _ if rest.is_empty() && path.on_key => target.span.clone(),
            Some(value) if kind == "add" || kind == "replace" => {
                let found = follow(value, rest);
                if found.complete && path.on_key && !rest.is_empty() {
                    found.key.unwrap_or_else(|| found.node.span.clone())
                } else if found.complete {
                    found.node.span.clone()
                } else {
                    value.span.clone()
                }
            }
            _ => target.span.clone(),
        };
        hit = Some(span);
    }
    hit
}

/// When `segments` (a JSON pointer) is `steps` or an ancestor of it: the
/// rest of `steps`. `-` (append) matches any item.
fn pointer_prefix<'s>(segments: &[String], steps: &'s [Step]) -> Option<&'s [Step]> {
    if segments.len() > steps.len() {
        return None;
    }
    for (segment, step) in segments.iter().zip(steps) {
        let same = match step {
            Step::Key(k) => k == segment,
            Step::Item { index, .. } => {
                segment == "-" || segment.parse::<usize>().ok() == Some(*index)
            }
        };
        if !same {
            return None;
        }
    }
    Some(&steps[segments.len()..])
}

/// The kustomization entry of a builtin transformer that writes `path`.
fn transformer_place(
    k: &Kustomization,
    object: &Object,
    names: &[String],
    path: &FieldPath,
) -> Option<Place> {
    let root = k.root.as_ref()?;
    let place = |span: Range<usize>| {
        Some(Place {
            path: k.file.clone(),
            span,
        })
    };
    let entry_span = |node: &Node, key: &str| -> Option<Range<usize>> {
        let entry = node.entry(key)?;
        Some(if path.on_key {
            entry.key_span.clone()
        } else {
            entry.value.span.clone()
        })
    };
    let steps = path.shape();
    let last = path.key(path.steps.len().saturating_sub(1));
    match steps.as_slice() {
        ["metadata", "namespace"] => {
            if let Some(ns) = root.get("namespace") {
                return place(ns.span.clone());
            }
        }
        ["metadata", "name"] => {
            for key in ["namePrefix", "nameSuffix"] {
                if let Some(node) = root.get(key) {
                    return place(node.span.clone());
                }
            }
        }
        ["spec", "replicas"] => {
            for item in root
                .get("replicas")
                .and_then(Node::as_seq)
                .unwrap_or_default()
            {
                if item
                    .get_str("name")
                    .is_some_and(|n| names.iter().any(|x| x == n))
                    && let Some(count) = item.get("count")
                {
                    return place(count.span.clone());
                }
            }
        }
        _ => {}
    }
    // Labels and annotations: on the object, on its pod template, in selectors.
    let label_key = |area: &[&str]| -> Option<&str> {
        if steps.len() == area.len() + 1 && steps[..area.len()] == *area {
            last
        } else {
            None
        }
    };
    let template_labels = label_key(&["spec", "template", "metadata", "labels"]);
    let own_labels = label_key(&["metadata", "labels"]);
    let selector_labels =
        label_key(&["spec", "selector", "matchLabels"]).or(label_key(&["spec", "selector"]));
    if let Some(key) = own_labels.or(template_labels).or(selector_labels) {
        if let Some(common) = root.get("commonLabels")
            && let Some(span) = entry_span(common, key)
        {
            return place(span);
        }
        for item in root
            .get("labels")
            .and_then(Node::as_seq)
            .unwrap_or_default()
        {
            let include_selectors = item
                .get("includeSelectors")
                .is_some_and(|n| n.value == Value::Bool(true));
            let include_templates = include_selectors
                || item
                    .get("includeTemplates")
                    .is_some_and(|n| n.value == Value::Bool(true));
            let applies = own_labels.is_some()
                || (template_labels.is_some() && include_templates)
                || (selector_labels.is_some() && include_selectors);
            if applies
                && let Some(pairs) = item.get("pairs")
                && let Some(span) = entry_span(pairs, key)
            {
                return place(span);
            }
        }
    }
    let annotation = label_key(&["metadata", "annotations"])
        .or(label_key(&["spec", "template", "metadata", "annotations"]))
        .or(label_key(&[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "metadata",
            "annotations",
        ]));
    if let Some(key) = annotation
        && let Some(common) = root.get("commonAnnotations")
        && let Some(span) = entry_span(common, key)
    {
        return place(span);
    }
    // Images: a container's `image`, by the image's name.
    if last == Some("image")
        && let Some(image) = object
            .root
            .lookup(path.steps.iter().map(|s| match s {
                Step::Key(k) => crate::yaml::PathSegment::Key(k),
                Step::Item { index, .. } => crate::yaml::PathSegment::Index(*index),
            }))
            .and_then(|(n, _)| n.as_str())
    {
        let repository = image_name(image);
        for item in root
            .get("images")
            .and_then(Node::as_seq)
            .unwrap_or_default()
        {
            let name = item.get_str("name");
            let new_name = item.get_str("newName");
            if name == Some(repository) || new_name == Some(repository) {
                let field = ["digest", "newTag", "newName"]
                    .iter()
                    .find_map(|f| item.get(f))
                    .map_or_else(|| item.span.clone(), |n| n.span.clone());
                return place(field);
            }
        }
    }
    None
}

/// An image reference without its tag or digest.
fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

/// The `configMapGenerator`/`secretGenerator` entry named `name` (the
/// rendered name carries a hash suffix).
fn generator_entry(k: &Kustomization, name: &str) -> Option<Range<usize>> {
    let root = k.root.as_ref()?;
    for key in ["configMapGenerator", "secretGenerator"] {
        for item in root.get(key).and_then(Node::as_seq).unwrap_or_default() {
            if let Some(n) = item.get("name")
                && let Some(text) = scalar_text(n)
                && (name == text || name.starts_with(&format!("{text}-")) || name.contains(&text))
            {
                return Some(n.span.clone());
            }
        }
    }
    None
}

/// Finds `keys` in order in a template's text (`key:` at the start of a
/// line's content or after `- `), returning the span of the last key found.
fn find_keys(text: &str, keys: &[&str]) -> Option<Range<usize>> {
    let mut from = 0;
    let mut last = None;
    for key in keys {
        let found = [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ]
        .iter()
        .filter_map(|needle| {
            let mut at = from;
            while let Some(i) = text[at..].find(needle.as_str()) {
                let start = at + i;
                let before = text[..start].chars().next_back();
                if before.is_none_or(|c| c == ' ' || c == '\n' || c == '-' || c == '{' || c == '\t')
                {
                    return Some(start..start + needle.len() - 1);
                }
                at = start + needle.len();
            }
            None
        })
        .min_by_key(|r| r.start);
        if let Some(range) = found {
            from = range.end;
            last = Some(range);
        }
    }
    last
}

/// An inline patch's text (a literal block scalar) and where its lines are
/// in the kustomization.
struct InlineText {
    /// Source offset of the start of each content line.
    line_starts: Vec<usize>,
    content_line_starts: Vec<usize>,
    fallback: Range<usize>,
}

impl InlineText {
    fn new(source: &str, node: &Node, content: &str) -> InlineText {
        let fallback = node.span.start..node.span.start;
        let indent = source[..node.span.start]
            .rfind('\n')
            .map_or(node.span.start, |nl| node.span.start - nl - 1);
        let mut line_starts = Vec::new();
        let mut content_line_starts = Vec::new();
        let mut content_at = 0;
        let mut source_at = node.span.start;
        for line in content.split_inclusive('\n') {
            let body = line.trim_end_matches('\n');
            // A literal block keeps each line as written, after the indent.
            let source_line = source.get(source_at..).unwrap_or_default();
            let matches = body.is_empty() || source_line.starts_with(body);
            if !matches {
                return InlineText {
                    line_starts: Vec::new(),
                    content_line_starts: Vec::new(),
                    fallback,
                };
            }
            line_starts.push(source_at);
            content_line_starts.push(content_at);
            content_at += line.len();
            // The next source line, past its indent.
            let next = source[source_at..]
                .find('\n')
                .map_or(source.len(), |i| source_at + i + 1);
            let next_indent = source[next..]
                .chars()
                .take_while(|c| *c == ' ')
                .count()
                .min(indent);
            source_at = next + next_indent;
        }
        InlineText {
            line_starts,
            content_line_starts,
            fallback,
        }
    }

    fn to_source(&self, span: Range<usize>) -> Range<usize> {
        if self.line_starts.is_empty() {
            return self.fallback.clone();
        }
        let map = |offset: usize| {
            let line = self
                .content_line_starts
                .partition_point(|s| *s <= offset)
                .saturating_sub(1);
            self.line_starts[line] + (offset - self.content_line_starts[line])
        };
        map(span.start)..map(span.end.max(span.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        parse_stream(text, &Limits::default()).documents.remove(0).1
    }

    #[test]
    fn field_paths_name_items() {
        let text = "spec:\n  containers:\n  - name: web\n    image: nginx\n";
        let root = doc(text);
        let path = FieldPath::at(&root, text.find("nginx").unwrap());
        assert_eq!(path.pointer(), "/spec/containers[web]/image");
        assert!(!path.on_key);
        let path = FieldPath::at(&root, text.find("image").unwrap());
        assert!(path.on_key);
    }

    #[test]
    fn strategic_merge_patches_match_items_by_name() {
        let patch = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:2\n";
        let root = doc(patch);
        let path = FieldPath {
            steps: vec![
                Step::Key("spec".into()),
                Step::Key("template".into()),
                Step::Key("spec".into()),
                Step::Key("containers".into()),
                Step::Item {
                    index: 3,
                    name: Some("web".into()),
                },
                Step::Key("image".into()),
            ],
            on_key: false,
        };
        let span = smp_place(&root, &path).unwrap();
        assert_eq!(&patch[span], "nginx:2");
        let other = FieldPath {
            steps: vec![Step::Key("metadata".into()), Step::Key("labels".into())],
            on_key: false,
        };
        assert_eq!(smp_place(&root, &other), None);
    }

    #[test]
    fn json6902_operations_set_paths_and_subtrees() {
        let ops = doc(
            "- op: add\n  path: /spec/template/metadata/annotations\n  value:\n    a/b: \"x\"\n- op: remove\n  path: /spec/replicas\n",
        );
        let steps = |keys: &[&str]| FieldPath {
            steps: keys.iter().map(|k| Step::Key((*k).into())).collect(),
            on_key: false,
        };
        let span = json6902_place(
            ops.as_seq().unwrap(),
            &steps(&["spec", "template", "metadata", "annotations", "a/b"]),
        );
        assert!(span.is_some());
        assert_eq!(
            json6902_place(ops.as_seq().unwrap(), &steps(&["spec", "replicas"])),
            None
        );
    }

    #[test]
    fn inline_patches_map_to_their_lines() {
        let source = "patches:\n- target: {kind: D}\n  patch: |-\n    - op: add\n      path: /x\n      value: \"bad\"\n";
        let root = doc(source);
        let node = root.get("patches").unwrap().as_seq().unwrap()[0]
            .get("patch")
            .unwrap();
        let content = node.as_str().unwrap();
        let inline = InlineText::new(source, node, content);
        let at = content.find("\"bad\"").unwrap();
        let mapped = inline.to_source(at..at + 5);
        assert_eq!(&source[mapped], "\"bad\"");
    }

    #[test]
    fn template_keys_are_found_in_order() {
        let text = "metadata:\n  annotations:\n    {{- with .Values.a }}\n    sidecar.istio.io/inject: {{ .Values.inject | quote }}\n";
        let span = find_keys(
            text,
            &["metadata", "annotations", "sidecar.istio.io/inject"],
        )
        .unwrap();
        assert_eq!(&text[span], "sidecar.istio.io/inject");
    }

    #[test]
    fn images_lose_their_tags() {
        assert_eq!(image_name("nginx:1.25"), "nginx");
        assert_eq!(image_name("registry:5000/app:v1"), "registry:5000/app");
        assert_eq!(image_name("app@sha256:abc"), "app");
    }
}
