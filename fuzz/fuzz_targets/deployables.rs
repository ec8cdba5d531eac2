//! `deployables`: bytes → what the deployables layer parses and maps.
//!
//! The input is up to three texts separated by a line `#---#`: a
//! renderer's output, a resource file, and a kustomization.
//! - `Kustomization::parse` of the third (and of the whole input): every
//!   reference, patch, plugin and Helm chart span valid;
//! - `strip_origins` of the first: the text left parses into as many
//!   documents, every origin offset is in it and on a character boundary;
//!   `helm_sources` offsets valid and increasing;
//! - the source map: the first text loaded as a rendering whose every
//!   document came from the second (the resource file) through the third
//!   (the kustomization, written to a temporary folder with the resource);
//!   a span at every node of every object is mapped without panicking,
//!   to a span valid in the file it lands in.

#![no_main]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kubectl_inject::deployables::kustomization::{Kustomization, PatchBody};
use kubectl_inject::deployables::origin::{DocumentOrigin, helm_sources, strip_origins};
use kubectl_inject::deployables::read::{Origins, RenderedFile};
use kubectl_inject::deployables::source_map::SourceMapper;
use kubectl_inject::load::{Input, LoadOptions, load_inputs};
use kubectl_inject::source::FileSpan;
use kubectl_inject::yaml::{Limits, Node, Value, parse_stream};
use libfuzzer_sys::fuzz_target;

/// One folder per process for the resource file and the kustomization.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kubectl-inject-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("overlay")).expect("scratch folder");
        dir
    })
}

fn check_kustomization(text: &str, file: &Path) -> Kustomization {
    let k = Kustomization::parse(file, text.to_owned());
    for r in k.resources.iter().chain(&k.components).chain(&k.files).chain(&k.plugins) {
        common::check_span(text, &r.span, "kustomization reference");
    }
    for p in &k.patches {
        common::check_span(text, &p.entry, "patch entry");
        match &p.body {
            PatchBody::File { span, .. } => common::check_span(text, span, "patch path"),
            PatchBody::Inline(node) => common::check_span(text, &node.span, "inline patch"),
        }
    }
    for span in k.helm_charts.iter().chain(k.problem.iter()) {
        common::check_span(text, span, "helmCharts entry or problem");
    }
    let _ = (k.local_uses().count(), k.read_files().count());
    k
}

/// Every node's span in a tree, keys included.
fn spans(node: &Node, out: &mut Vec<std::ops::Range<usize>>) {
    out.push(node.span.clone());
    match &node.value {
        Value::Map(entries) => {
            for e in entries {
                out.push(e.key_span.clone());
                spans(&e.value, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| spans(i, out)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, "\n#---#\n");
    let rendered = parts.next().unwrap_or_default();
    let resource = parts.next().unwrap_or_default();
    let kustomization = parts.next().unwrap_or_default();

    check_kustomization(text, Path::new("/repo/kustomization.yaml"));

    let stripped = strip_origins(rendered, Path::new("/wrap"));
    let before = parse_stream(rendered, &Limits::default()).documents.len();
    let after = parse_stream(&stripped.text, &Limits::default()).documents.len();
    assert_eq!(before, after, "stripping origins changed the number of documents");
    for (offset, _) in &stripped.origins {
        common::check_span(&stripped.text, &(*offset..*offset), "origin offset");
    }
    let sources = helm_sources(rendered);
    assert!(sources.windows(2).all(|w| w[0].0 < w[1].0), "Helm sources out of order");
    for (offset, _) in &sources {
        common::check_span(rendered, &(*offset..*offset), "Helm source offset");
    }

    // The source map, through a resource file and a kustomization on disk.
    let dir = scratch();
    let overlay = dir.join("overlay");
    let resource_path = dir.join("resource.yaml");
    let kustomization_path = overlay.join("kustomization.yaml");
    if std::fs::write(&resource_path, resource).is_err()
        || std::fs::write(&kustomization_path, kustomization).is_err()
    {
        return;
    }
    let k = check_kustomization(kustomization, &kustomization_path);
    let mut ws = load_inputs(
        vec![Input::Rendered {
            name: "<fuzz>".to_owned(),
            text: stripped.text.clone(),
        }],
        Vec::new(),
        &LoadOptions::default(),
    );
    let mut origins = Origins::default();
    origins.kustomizations.insert(overlay.clone(), k);
    let documents = ws
        .objects
        .iter()
        .map(|o| {
            let origin = DocumentOrigin {
                path: Some(resource_path.clone()),
                ..DocumentOrigin::default()
            };
            (o.root.span.start, origin)
        })
        .collect();
    origins.rendered.insert(
        kubectl_inject::source::FileId(0),
        RenderedFile {
            root: Some(overlay.clone()),
            documents,
            ..RenderedFile::default()
        },
    );
    let objects = std::mem::take(&mut ws.objects);
    let mut mapper = SourceMapper::new(&mut origins);
    for object in objects.iter().take(8) {
        let mut all = Vec::new();
        spans(&object.root, &mut all);
        for span in all.into_iter().take(256) {
            let at = FileSpan {
                file: object.file,
                span,
            };
            let at = mapper.place(&objects, &mut ws.sources, &at).unwrap_or(at);
            let file = ws.sources.get(at.file);
            common::check_span(&file.text, &at.span, "mapped span");
        }
    }
});
