//! Where each rendered document came from.
//!
//! Kustomize, asked through the wrapper's `buildMetadata` (see
//! [`super::render`]), annotates every object it renders:
//!
//! ```yaml
//! metadata:
//!   annotations:
//!     alpha.config.kubernetes.io/transformations: |
//!       - configuredIn: ../repo/overlays/prod/kustomization.yaml
//!         configuredBy:
//!           apiVersion: builtin
//!           kind: NamespaceTransformer
//!     config.kubernetes.io/origin: |
//!       path: ../repo/base/deployment.yaml
//! ```
//!
//! [`strip_origins`] reads those annotations and removes them from the text,
//! so the analysis never sees them and rendered output shown to users does
//! not carry them. Helm marks documents with `# Source:` comments instead
//! ([`helm_sources`]).

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::source::absolute_normalized;
use crate::yaml::{Entry, Limits, Node, parse_stream};

/// The annotation naming the file (or generator) an object came from.
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";
/// The annotation listing the transformers that ran over an object.
pub const TRANSFORMATIONS_ANNOTATION: &str = "alpha.config.kubernetes.io/transformations";

/// A transformer that ran over an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformation {
    /// The kustomization (or transformer configuration) that configured it,
    /// absolute and normalized. For a transformer of a remote base, the path
    /// within that repository, as given (relative).
    pub configured_in: PathBuf,
    /// Its `configuredBy.kind`, e.g. `PatchTransformer`; empty when absent.
    pub kind: String,
}

/// What Kustomize says about where a rendered object came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentOrigin {
    /// The resource file, resolved against the wrapper's directory (absolute,
    /// normalized). For a remote resource (`repo` set), the path within that
    /// repository, as given (relative).
    pub path: Option<PathBuf>,
    /// The remote repository of a remote resource.
    pub repo: Option<String>,
    /// The ref of that repository.
    pub git_ref: Option<String>,
    /// For generated objects: the kustomization whose generator made it,
    /// resolved like `path`.
    pub configured_in: Option<PathBuf>,
    /// The generator's kind, e.g. `ConfigMapGenerator`.
    pub configured_by: Option<String>,
    /// The transformers that ran over the object, in the order listed.
    pub transformations: Vec<Transformation>,
}

/// Kustomize output without its origin annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stripped {
    /// The rendered text with both annotations removed (and `annotations:`
    /// where nothing else was left in it); everything else byte for byte.
    pub text: String,
    /// Per mapping document, in order: the byte offset in `text` where its
    /// root node starts, and its origin (the default when it has none).
    pub origins: Vec<(usize, DocumentOrigin)>,
}

/// Removes `config.kubernetes.io/origin` and
/// `alpha.config.kubernetes.io/transformations` from every document of
/// Kustomize output, returning their content per document. Their paths are
/// resolved lexically against `base`, the wrapper's directory.
///
/// An entry is removed as whole lines only, from its key's line through the
/// last line of its value, in a block mapping. Where that is not possible
/// (flow style, JSON) the document is left as it was and its origin still
/// returned; the result is parsed again and any document that would not read
/// as before minus those entries is left as it was too, so no document is
/// ever corrupted.
pub fn strip_origins(rendered: &str, base: &Path) -> Stripped {
    let parsed = parse_stream(rendered, &Limits::default());
    let mut planned: Vec<Planned> = Vec::new();
    for (index, root) in &parsed.documents {
        if root.as_map().is_none() {
            continue;
        }
        let mut origin = DocumentOrigin::default();
        let mut cuts = Vec::new();
        let annotations = root.get("metadata").and_then(|m| m.entry("annotations"));
        if let Some(annotations) = annotations {
            let ours: Vec<&Entry> = annotations
                .value
                .as_map()
                .unwrap_or_default()
                .iter()
                .filter(|e| is_ours(&e.key))
                .collect();
            for entry in &ours {
                read_annotation(entry, base, &mut origin);
            }
            if !ours.is_empty() {
                cuts = plan_cuts(rendered, annotations, &ours).unwrap_or_default();
            }
        }
        planned.push(Planned {
            index: *index,
            root,
            origin,
            cuts,
        });
    }

    // Cut, check, and give up on the documents that do not check out; the
    // text returned is one that checked out as a whole.
    let mut keep: Vec<bool> = planned.iter().map(|p| !p.cuts.is_empty()).collect();
    let mut text = None;
    for _ in 0..3 {
        if !keep.contains(&true) {
            break;
        }
        let candidate = apply_cuts(rendered, &planned, &keep);
        let failing = check(&candidate, &parsed.documents, &planned, &keep);
        if failing.is_empty() {
            text = Some(candidate);
            break;
        }
        for i in failing {
            keep[i] = false;
        }
    }
    let Some(text) = text else {
        keep.fill(false);
        return finish(rendered.to_owned(), planned, &keep);
    };
    finish(text, planned, &keep)
}

/// Helm's `# Source: CHART/templates/F.yaml` comments, each with the byte
/// offset of the line it is on, in order. Lines are matched as text: a
/// block scalar holding such a line would be read as one too.
pub fn helm_sources(text: &str) -> Vec<(usize, String)> {
    let mut sources = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(source) = line.strip_prefix("# Source: ") {
            let source = source.trim();
            if !source.is_empty() {
                sources.push((offset, source.to_owned()));
            }
        }
        offset += line.len();
    }
    sources
}

fn is_ours(key: &str) -> bool {
    key == ORIGIN_ANNOTATION || key == TRANSFORMATIONS_ANNOTATION
}

/// A mapping document and what is to be cut from it.
struct Planned<'p> {
    /// Its index in the stream.
    index: usize,
    root: &'p Node,
    origin: DocumentOrigin,
    /// Byte ranges of whole lines, in order; empty when nothing can be cut.
    cuts: Vec<Range<usize>>,
}

/// Fills `origin` from one of the two annotations (its value is YAML text).
fn read_annotation(entry: &Entry, base: &Path, origin: &mut DocumentOrigin) {
    let Some(node) = entry.value.as_str().and_then(parse_value) else {
        return;
    };
    if entry.key == ORIGIN_ANNOTATION {
        let repo = non_empty(node.get_str("repo"));
        let remote = repo.is_some();
        origin.path = non_empty(node.get_str("path")).map(|p| resolve(base, &p, remote));
        origin.git_ref = non_empty(node.get_str("ref"));
        origin.configured_in =
            non_empty(node.get_str("configuredIn")).map(|p| resolve(base, &p, remote));
        origin.configured_by = non_empty(configured_by_kind(&node));
        origin.repo = repo;
    } else {
        origin.transformations = node
            .as_seq()
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let configured_in = non_empty(item.get_str("configuredIn"))?;
                let remote = non_empty(item.get_str("repo")).is_some();
                Some(Transformation {
                    configured_in: resolve(base, &configured_in, remote),
                    kind: configured_by_kind(item).unwrap_or_default().to_owned(),
                })
            })
            .collect();
    }
}

fn parse_value(text: &str) -> Option<Node> {
    let parsed = parse_stream(text, &Limits::default());
    parsed.documents.into_iter().next().map(|(_, node)| node)
}

fn configured_by_kind(node: &Node) -> Option<&str> {
    node.get("configuredBy")?.get_str("kind")
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A local path against the wrapper's directory; a remote one as given.
fn resolve(base: &Path, path: &str, remote: bool) -> PathBuf {
    if remote {
        PathBuf::from(path)
    } else {
        absolute_normalized(&base.join(path))
    }
}

/// The lines to cut for `ours`, entries of the `annotations` entry's block
/// mapping: all of `annotations` when nothing else is in it. `None` when
/// they are not whole lines.
fn plan_cuts(text: &str, annotations: &Entry, ours: &[&Entry]) -> Option<Vec<Range<usize>>> {
    // A flow mapping (`{…}`) would need its commas mended.
    if text.get(annotations.value.span.clone())?.starts_with('{') {
        return None;
    }
    let everything = annotations.value.as_map().map_or(0, <[Entry]>::len) == ours.len();
    let mut cuts = if everything {
        vec![entry_lines(text, annotations)?]
    } else {
        ours.iter()
            .map(|entry| entry_lines(text, entry))
            .collect::<Option<Vec<_>>>()?
    };
    cuts.sort_by_key(|cut| cut.start);
    let disjoint = cuts.windows(2).all(|pair| pair[0].end <= pair[1].start);
    disjoint.then_some(cuts)
}

/// The whole lines of a block mapping entry: from its key's line (only
/// indentation before the key) through its value's last line (only blanks
/// or a comment after it). A block scalar's span runs on to the next
/// token's indentation; the cut stops at that line's start.
fn entry_lines(text: &str, entry: &Entry) -> Option<Range<usize>> {
    let start = line_start(text, entry.key_span.start)?;
    if !text
        .get(start..entry.key_span.start)?
        .bytes()
        .all(|b| b == b' ')
    {
        return None;
    }
    let empty_value = entry.value.span.is_empty();
    let end = if empty_value {
        entry.key_span.end
    } else {
        entry.value.span.end.max(entry.key_span.end)
    };
    let end_line = line_start(text, end)?;
    if end_line > start && text.get(end_line..end)?.bytes().all(|b| b == b' ') {
        return Some(start..end_line);
    }
    let rest = text.get(end..)?;
    let line_end = rest.find('\n').map_or(text.len(), |at| end + at + 1);
    let mut tail = text.get(end..line_end)?.trim();
    if empty_value {
        tail = tail.strip_prefix(':').unwrap_or(tail).trim_start();
    }
    (tail.is_empty() || tail.starts_with('#')).then_some(start..line_end)
}

/// The start of the line holding byte `at`.
fn line_start(text: &str, at: usize) -> Option<usize> {
    Some(text.get(..at)?.rfind('\n').map_or(0, |newline| newline + 1))
}

/// `text` without the cuts of the documents kept.
fn apply_cuts(text: &str, planned: &[Planned], keep: &[bool]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for cut in kept_cuts(planned, keep) {
        out.push_str(text.get(copied..cut.start).unwrap_or_default());
        copied = cut.end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

fn kept_cuts<'a>(
    planned: &'a [Planned],
    keep: &'a [bool],
) -> impl Iterator<Item = &'a Range<usize>> {
    planned
        .iter()
        .zip(keep)
        .filter(|(_, keep)| **keep)
        .flat_map(|(planned, _)| &planned.cuts)
}

/// Indices (in `planned`) of the cut documents that do not read as before
/// minus our annotations; all of them when the stream's documents moved
/// although each of those reads right.
fn check(text: &str, before: &[(usize, Node)], planned: &[Planned], keep: &[bool]) -> Vec<usize> {
    let after = parse_stream(text, &Limits::default()).documents;
    let cut: Vec<usize> = (0..planned.len()).filter(|&i| keep[i]).collect();
    let failing: Vec<usize> = cut
        .iter()
        .copied()
        .filter(|&i| {
            let found = after
                .binary_search_by_key(&planned[i].index, |(index, _)| *index)
                .ok()
                .and_then(|at| after.get(at));
            found.is_none_or(|(_, node)| node.to_json() != without_ours(planned[i].root))
        })
        .collect();
    let same_documents = after
        .iter()
        .map(|(i, _)| i)
        .eq(before.iter().map(|(i, _)| i));
    if failing.is_empty() && !same_documents {
        return cut;
    }
    failing
}

/// The document as JSON without our annotations (and without `annotations`
/// when nothing else was in it).
fn without_ours(root: &Node) -> serde_json::Value {
    let mut json = root.to_json();
    if let Some(metadata) = json
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        let now_empty = metadata
            .get_mut("annotations")
            .and_then(serde_json::Value::as_object_mut)
            .is_some_and(|annotations| {
                annotations.retain(|key, _| !is_ours(key));
                annotations.is_empty()
            });
        if now_empty {
            metadata.remove("annotations");
        }
    }
    json
}

/// The result, with each document's root offset moved back by the cuts
/// before it.
fn finish(text: String, planned: Vec<Planned>, keep: &[bool]) -> Stripped {
    let cuts: Vec<Range<usize>> = kept_cuts(&planned, keep).cloned().collect();
    let mut cuts = cuts.into_iter().peekable();
    let mut removed = 0;
    let origins = planned
        .into_iter()
        .map(|p| {
            let start = p.root.span.start;
            while let Some(cut) = cuts.next_if(|cut| cut.end <= start) {
                removed += cut.len();
            }
            (start.saturating_sub(removed), p.origin)
        })
        .collect();
    Stripped { text, origins }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kubectl kustomize` (Kustomize v5.5.0) of `testdata/kustomize-tree/overlays/prod`
    /// through a wrapper in a sibling directory of `kustomize-tree`: a base
    /// with `labels`, a component with a patch, an overlay with `namespace`,
    /// `images`, a `configMapGenerator` and a Namespace of its own.
    const CAPTURED: &str = include_str!("testdata/kustomize-origins.yaml");

    fn documents(text: &str) -> Vec<(usize, Node)> {
        parse_stream(text, &Limits::default()).documents
    }

    /// Every document of `output` reads as the same document of `input`,
    /// either unchanged or without our annotations; the offsets are those
    /// of the mapping documents' roots.
    fn assert_faithful(input: &str, stripped: &Stripped) {
        let before = documents(input);
        let after = documents(&stripped.text);
        assert_eq!(
            before.iter().map(|(i, _)| i).collect::<Vec<_>>(),
            after.iter().map(|(i, _)| i).collect::<Vec<_>>(),
            "{}",
            stripped.text
        );
        for ((_, old), (_, new)) in before.iter().zip(&after) {
            let new = new.to_json();
            assert!(
                new == old.to_json() || new == without_ours(old),
                "{}",
                stripped.text
            );
        }
        let roots: Vec<usize> = after
            .iter()
            .filter(|(_, node)| node.as_map().is_some())
            .map(|(_, node)| node.span.start)
            .collect();
        let offsets: Vec<usize> = stripped.origins.iter().map(|(at, _)| *at).collect();
        assert_eq!(offsets, roots);
    }

    fn transformations(origin: &DocumentOrigin) -> Vec<(String, &str)> {
        origin
            .transformations
            .iter()
            .map(|t| (t.configured_in.display().to_string(), t.kind.as_str()))
            .collect()
    }

    #[test]
    fn real_kustomize_output_loses_its_annotations_and_keeps_everything_else() {
        let stripped = strip_origins(CAPTURED, Path::new("/w/wrap"));
        assert_faithful(CAPTURED, &stripped);
        assert!(!stripped.text.contains("config.kubernetes.io/"));
        for (at, _) in &stripped.origins {
            assert!(stripped.text[*at..].starts_with("apiVersion: "));
            assert!(*at == 0 || stripped.text[..*at].ends_with("---\n"));
        }
        // Annotations left empty go; the Deployment keeps its own.
        assert!(stripped.text.starts_with(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n---\n\
             apiVersion: v1\ndata:\n  LOG_LEVEL: info\nkind: ConfigMap\nmetadata:\n  name: web-config-"
        ));
        assert!(stripped.text.contains(
            "kind: Deployment\nmetadata:\n  annotations:\n    sidecar.istio.io/inject: \"true\"\n  labels:\n"
        ));
        assert_eq!(stripped.text.matches("annotations:").count(), 1);
    }

    #[test]
    fn real_kustomize_origins() {
        let stripped = strip_origins(CAPTURED, Path::new("/w/wrap"));
        let [namespace, config, service, deployment] = &stripped.origins[..] else {
            panic!("{:?}", stripped.origins);
        };
        let tree = |p: &str| Some(PathBuf::from(format!("/w/kustomize-tree/{p}")));

        assert_eq!(namespace.1.path, tree("overlays/prod/namespace.yaml"));
        let overlay = "/w/kustomize-tree/overlays/prod/kustomization.yaml".to_owned();
        let component = "/w/kustomize-tree/components/replicas/kustomization.yaml".to_owned();
        let base = "/w/kustomize-tree/base/kustomization.yaml".to_owned();
        let overlay_only = vec![
            (component.clone(), "PatchTransformer"),
            (overlay.clone(), "NamespaceTransformer"),
            (overlay.clone(), "ImageTagTransformer"),
        ];
        assert_eq!(transformations(&namespace.1), overlay_only);

        // A generated object: configuredIn, no path.
        assert_eq!(
            config.1,
            DocumentOrigin {
                configured_in: tree("overlays/prod/kustomization.yaml"),
                configured_by: Some("ConfigMapGenerator".into()),
                transformations: config.1.transformations.clone(),
                ..DocumentOrigin::default()
            }
        );
        assert_eq!(transformations(&config.1), overlay_only);

        let from_base = [
            vec![
                (base.clone(), "LabelTransformer"),
                (base.clone(), "LabelTransformer"),
            ],
            overlay_only,
        ]
        .concat();
        assert_eq!(service.1.path, tree("base/service.yaml"));
        assert_eq!(transformations(&service.1), from_base);
        assert_eq!(deployment.1.path, tree("base/deployment.yaml"));
        assert_eq!(transformations(&deployment.1), from_base);
        assert_eq!(deployment.1.repo, None);
        assert_eq!(deployment.1.configured_in, None);
    }

    #[test]
    fn remote_origins_keep_their_repository_paths() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  annotations:\n    \
                    alpha.config.kubernetes.io/transformations: |\n      \
                    - configuredIn: examples/x/kustomization.yaml\n        \
                    repo: https://github.com/org/repo\n        configuredBy:\n          \
                    apiVersion: builtin\n          kind: LabelTransformer\n    \
                    config.kubernetes.io/origin: |\n      path: examples/x/svc.yaml\n      \
                    repo: https://github.com/org/repo\n      ref: v1.0.6\n  name: web\n";
        let stripped = strip_origins(text, Path::new("/w/wrap"));
        assert_faithful(text, &stripped);
        assert_eq!(
            stripped.text,
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        );
        assert_eq!(
            stripped.origins,
            [(
                0,
                DocumentOrigin {
                    path: Some("examples/x/svc.yaml".into()),
                    repo: Some("https://github.com/org/repo".into()),
                    git_ref: Some("v1.0.6".into()),
                    transformations: vec![Transformation {
                        configured_in: "examples/x/kustomization.yaml".into(),
                        kind: "LabelTransformer".into(),
                    }],
                    ..DocumentOrigin::default()
                }
            )]
        );
    }

    #[test]
    fn flow_style_documents_are_left_alone_but_read() {
        let text = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\", \
                    \"annotations\": {\"config.kubernetes.io/origin\": \"path: ../r/cm.yaml\\n\"}}}\n\
                    ---\n\
                    apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  annotations: \
                    {a: b, config.kubernetes.io/origin: \"path: ../r/y.yaml\"}\n\
                    ---\n\
                    apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z, annotations: \
                    {config.kubernetes.io/origin: \"path: ../r/z.yaml\"}}\n";
        let stripped = strip_origins(text, Path::new("/w/wrap"));
        assert_eq!(stripped.text, text);
        assert_faithful(text, &stripped);
        let paths: Vec<_> = stripped
            .origins
            .iter()
            .map(|(_, o)| o.path.clone().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("/w/r/cm.yaml"),
                "/w/r/y.yaml".into(),
                "/w/r/z.yaml".into()
            ]
        );
    }

    #[test]
    fn only_our_lines_go_between_others_comments_and_blank_lines() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    \
                    a: \"1\"\n    config.kubernetes.io/origin: |+\n      path: cm.yaml\n\n    \
                    # a comment\n    z: |\n      two\n      lines\n    \
                    alpha.config.kubernetes.io/transformations: \"[]\"  # inline\n  name: x\n";
        let stripped = strip_origins(text, Path::new("/w"));
        assert_faithful(text, &stripped);
        assert_eq!(
            stripped.text,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    a: \"1\"\n    \
             # a comment\n    z: |\n      two\n      lines\n  name: x\n"
        );
        assert_eq!(stripped.origins[0].1.path, Some("/w/cm.yaml".into()));
        assert!(stripped.origins[0].1.transformations.is_empty());
    }

    #[test]
    fn documents_without_origins_scalars_and_broken_ones() {
        let text = "# leading comment\napiVersion: v1\nkind: A\nmetadata:\n  annotations:\n    \
                    config.kubernetes.io/origin: |\n      path: a.yaml\n  name: a\n\
                    ---\njust a string\n\
                    ---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n\
                    ---\nkey: [unclosed\n\
                    ---\n- a\n- list\n\
                    ---\napiVersion: v1\nkind: C\nmetadata:\n  annotations:\n    \
                    config.kubernetes.io/origin: \"path: c.yaml\"\n  name: c\n";
        let stripped = strip_origins(text, Path::new("/w"));
        assert_faithful(text, &stripped);
        let paths: Vec<Option<PathBuf>> = stripped
            .origins
            .iter()
            .map(|(_, o)| o.path.clone())
            .collect();
        assert_eq!(
            paths,
            [Some("/w/a.yaml".into()), None, Some("/w/c.yaml".into())]
        );
        assert_eq!(stripped.origins[1].1, DocumentOrigin::default());
        assert!(stripped.text.contains("---\nkey: [unclosed\n---\n"));
        assert!(!stripped.text.contains("config.kubernetes.io"));
    }

    #[test]
    fn a_cut_that_would_change_the_document_is_not_made() {
        // The annotations are aliased elsewhere: cutting lines would change
        // `labels` too (or leave `*a` dangling), which the check catches.
        for annotations in [
            "config.kubernetes.io/origin: 'path: x.yaml'\n    k: v",
            "config.kubernetes.io/origin: 'path: x.yaml'",
        ] {
            let text = format!(
                "apiVersion: v1\nkind: A\nmetadata:\n  annotations: &a\n    {annotations}\n  \
                 labels: *a\n  name: a\n---\napiVersion: v1\nkind: B\nmetadata:\n  annotations:\n    \
                 config.kubernetes.io/origin: b.yaml\n  name: b\n"
            );
            let stripped = strip_origins(&text, Path::new("/w"));
            assert_faithful(&text, &stripped);
            assert!(
                stripped
                    .text
                    .starts_with(&text[..text.find("---").unwrap()])
            );
            // The other document is still cut.
            assert!(
                stripped
                    .text
                    .ends_with("---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n")
            );
            assert_eq!(stripped.origins[0].1.path, Some("/w/x.yaml".into()));
        }
    }

    #[test]
    fn no_input_breaks_it() {
        // Every prefix of real output, and of a mixed stream: no panic, and
        // every document reads as before or as before minus the annotations.
        let mixed = "a: {b: [c, d]}\n---\nmetadata:\n  annotations:\n    \
                     config.kubernetes.io/origin: 'path: x'\n    k: v\n---\n\"é\"\n";
        for input in [CAPTURED, mixed] {
            for end in (0..=input.len()).filter(|&end| input.is_char_boundary(end)) {
                let prefix = &input[..end];
                assert_faithful(prefix, &strip_origins(prefix, Path::new("/w")));
            }
        }
        assert_eq!(strip_origins("", Path::new("/w")), Stripped::default());
    }

    #[test]
    fn helm_source_comments_and_their_lines() {
        let text = "---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\n\
                    ---\n# Source: web/charts/db/templates/statefulset.yaml\r\napiVersion: apps/v1\n\
                    data:\n  x: |\n    # Source: not/at/line/start.yaml\n";
        assert_eq!(
            helm_sources(text),
            [
                (4, "web/templates/service.yaml".to_owned()),
                (74, "web/charts/db/templates/statefulset.yaml".to_owned()),
            ]
        );
        assert_eq!(&text[74..84], "# Source: ");
    }

    /// Rendering the same tree for real gives the same text and origins as
    /// the capture (when kubectl is installed).
    #[test]
    fn kubectl_kustomize_agrees_with_the_capture() {
        use super::super::render::{KustomizeProgram, RenderError, Renderers, kustomize_build};
        let renderers = Renderers {
            kustomize: vec![KustomizeProgram::Kubectl("kubectl".into())],
            ..Renderers::default()
        };
        let tree = absolute_normalized(Path::new("src/deployables/testdata/kustomize-tree"));
        let rendered = match kustomize_build(&renderers, &tree.join("overlays/prod")) {
            Err(RenderError::Missing { .. }) => {
                println!("kubectl is not on PATH: skipped");
                return;
            }
            other => other.unwrap(),
        };
        let real = strip_origins(&rendered.text, &rendered.wrapper_dir.unwrap());
        let captured = strip_origins(CAPTURED, Path::new("/w/wrap"));
        assert_eq!(real.text, captured.text);
        let relative = |origins: &[(usize, DocumentOrigin)], root: &Path| -> Vec<_> {
            origins
                .iter()
                .map(|(at, o)| {
                    let path = o.path.as_ref().or(o.configured_in.as_ref()).unwrap();
                    (*at, path.strip_prefix(root).unwrap().to_path_buf())
                })
                .collect()
        };
        assert_eq!(
            relative(&real.origins, &tree),
            relative(&captured.origins, Path::new("/w/kustomize-tree"))
        );
    }
}
