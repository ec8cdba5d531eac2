//! Loading a run's inputs: discover files, read and parse them in parallel,
//! and turn documents into [`Object`]s. Problems of single files or documents
//! are kept as [`Problem`]s (the rules make them findings); the run goes on.

use std::io::Read;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::model::Object;
use crate::model::deployable::Deployables;
use crate::source::{DiscoverOptions, FileId, InputError, SourceFile, SourceMap, discover};
use crate::yaml::{self, Limits, parse_stream};

/// Default size limit of one input file.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 32 * 1024 * 1024;

/// How to load.
#[derive(Debug)]
pub struct LoadOptions {
    pub discover: DiscoverOptions,
    pub max_file_size: u64,
    pub limits: Limits,
    /// Show a progress bar on stderr for long runs (the CLI sets it on a
    /// terminal outside CI).
    pub progress: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            discover: DiscoverOptions::default(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            limits: Limits::default(),
            progress: false,
        }
    }
}

/// Runs with fewer files finish before a bar would be worth drawing.
const PROGRESS_MIN_FILES: usize = 200;

/// Everything loaded for a run.
#[derive(Debug, Default)]
pub struct Workspace {
    pub sources: SourceMap,
    pub objects: Vec<Object>,
    /// What the loader met and went past, in the order it met them.
    pub problems: Vec<Problem>,
    /// Files read.
    pub files: usize,
    /// Objects read from a cluster (`simulate --live`), not counted as files.
    pub live_objects: usize,
    /// Documents found (Kubernetes objects or not; `List` items count).
    pub documents: usize,
    /// Documents that are not Kubernetes objects (no `apiVersion`/`kind`).
    pub skipped_documents: usize,
    /// What is applied together (see `deployables`); empty when the run
    /// read no paths as deployables.
    pub deployables: Deployables,
    /// Files under a kustomization that no kustomization uses: never applied, not read.
    pub unused_files: usize,
    /// Where the time of the run went (`KUBECTL_INJECT_TIMINGS=1` prints it).
    pub timings: Timings,
}

/// A problem of one input that the loader went past: plain data, which the
/// rules turn into findings. Each names the file in the source map it is
/// about (an input that could not be read gets an empty placeholder, named
/// after its path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An input that could not be read as a whole (a walk error, a symlink
    /// loop or a symlink out of the paths given): `message` says why.
    NotWalked { file: FileId, message: String },
    /// A file whose bytes could not be read: the I/O error's text.
    Unreadable { file: FileId, error: String },
    /// A file of `size` bytes, over the size limit.
    TooLarge { file: FileId, size: u64, limit: u64 },
    /// A file with a NUL byte near its start (at `offset`): not text; its
    /// text in the source map ends before the NUL.
    Binary { file: FileId, offset: usize },
    /// A file that is not UTF-8 from `offset` on.
    InvalidUtf8 { file: FileId, offset: usize },
    /// What the parser met in a document: a syntax error, a key written
    /// twice, nesting too deep, an alias bomb, a key that is not a string.
    Yaml {
        file: FileId,
        problem: yaml::Problem,
    },
}

/// Where a run's time went.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// Reading: discovery, loading, rendering, deployables.
    pub read: std::time::Duration,
    /// Wall time while renderers ran, and the sum of their own run times.
    pub render_wall: std::time::Duration,
    pub render_total: std::time::Duration,
    pub renders: usize,
    /// The analysis of every environment, the source map included.
    pub analysis: std::time::Duration,
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read {:.2} s (rendering {:.2} s: {} builds, {:.2} s of renderer time), analysis {:.2} s",
            self.read.as_secs_f64(),
            self.render_wall.as_secs_f64(),
            self.renders,
            self.render_total.as_secs_f64(),
            self.analysis.as_secs_f64()
        )
    }
}

/// One file's share of the work, made on a worker thread.
struct FileLoad {
    source: SourceFile,
    objects: Vec<Object>,
    problems: Vec<Problem>,
    documents: usize,
    skipped: usize,
}

/// Loads `paths` (`-` reads `stdin`). Fails only when a named path does not
/// exist or cannot be walked at all.
pub fn load(
    paths: &[PathBuf],
    options: &LoadOptions,
    stdin: impl Read,
) -> Result<Workspace, String> {
    load_with(paths, Vec::new(), options, stdin)
}

/// [`load`], plus inputs from elsewhere (objects read from a cluster).
pub fn load_with(
    paths: &[PathBuf],
    extra: Vec<Input>,
    options: &LoadOptions,
    stdin: impl Read,
) -> Result<Workspace, String> {
    let mut stdin = stdin.take(options.max_file_size + 1);
    let found = discover(paths, &options.discover)?;
    let mut inputs = Vec::with_capacity(found.files.len());
    for path in found.files {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            // `discover` lists `-` once, however often it was named.
            stdin
                .read_to_end(&mut bytes)
                .map_err(|e| format!("reading stdin: {e}"))?;
            inputs.push(Input::Read {
                name: "<stdin>".into(),
                bytes: Ok(bytes),
            });
        } else {
            inputs.push(Input::Path(path));
        }
    }
    inputs.extend(extra);
    Ok(load_inputs(inputs, found.errors, options))
}

/// One input: a file on disk, or bytes read elsewhere (stdin, a Git blob)
/// under the name reports give them.
#[derive(Debug)]
pub enum Input {
    Path(PathBuf),
    /// A file on disk that reports name otherwise (a revision's copy of a
    /// file, named as the same file in the working tree).
    NamedPath {
        path: PathBuf,
        name: String,
    },
    Read {
        name: String,
        bytes: Result<Vec<u8>, ReadError>,
    },
    /// An object from a live cluster: its JSON, named `kind/namespace/name`.
    Live {
        name: String,
        json: String,
    },
    /// A renderer's output (see `deployables`), named after what was rendered.
    Rendered {
        name: String,
        text: String,
    },
}

/// Reads and parses `inputs` in parallel; `errors` are inputs that could not
/// be read as a whole (they become [`Problem::NotWalked`]).
pub fn load_inputs(
    inputs: Vec<Input>,
    errors: Vec<InputError>,
    options: &LoadOptions,
) -> Workspace {
    let mut ws = Workspace::default();
    load_into(&mut ws, inputs, errors, options);
    ws
}

/// [`load_inputs`] into a workspace that may already hold files: the
/// inputs get the next file ids, in order (input `i` is the first new id
/// plus `i`). Returns the first new id.
pub fn load_into(
    ws: &mut Workspace,
    inputs: Vec<Input>,
    errors: Vec<InputError>,
    options: &LoadOptions,
) -> FileId {
    let first = ws.sources.len();
    let bar = if options.progress && inputs.len() >= PROGRESS_MIN_FILES {
        let bar = ProgressBar::new(inputs.len() as u64).with_style(
            ProgressStyle::with_template("{spinner} loading {pos}/{len} files {wide_bar} {eta}")
                .expect("valid template"),
        );
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar
    } else {
        ProgressBar::hidden()
    };
    let loads: Vec<FileLoad> = inputs
        .into_par_iter()
        .enumerate()
        .map(|(i, input)| {
            let load = load_file(FileId((first + i) as u32), input, options);
            bar.inc(1);
            load
        })
        .collect();

    bar.finish_and_clear();
    for load in loads {
        let (live, rendered) = (load.source.live, load.source.rendered);
        ws.sources.add(load.source);
        ws.objects.extend(load.objects);
        ws.problems.extend(load.problems);
        ws.documents += load.documents;
        ws.skipped_documents += load.skipped;
        if live {
            ws.live_objects += 1;
        } else if !rendered {
            // A rendering counts as the files it was made of (deployables).
            ws.files += 1;
        }
    }
    for error in errors {
        let file = ws.sources.add(SourceFile::new(error.path.clone(), ""));
        ws.problems.push(Problem::NotWalked {
            file,
            message: error.message,
        });
    }
    FileId(first as u32)
}

/// How reports name a file: the path as the user gave it, `/`-separated.
pub fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).replace('\\', "/")
}

fn load_file(id: FileId, input: Input, options: &LoadOptions) -> FileLoad {
    let (name, bytes) = match input {
        Input::Live { name, json } => {
            let mut load = parse_file(id, name, json, &options.limits);
            load.source.live = true;
            return load;
        }
        Input::Rendered { name, text } => {
            let mut load = parse_file(id, name, text, &options.limits);
            load.source.rendered = true;
            return load;
        }
        Input::Read { name, bytes } => (name, bytes),
        Input::Path(path) => (
            display_name(&path),
            read_limited(&path, options.max_file_size),
        ),
        Input::NamedPath { path, name } => (name, read_limited(&path, options.max_file_size)),
    };
    let failed = |problem: Problem, text: String| FileLoad {
        source: SourceFile::new(name.clone(), text),
        objects: Vec::new(),
        problems: vec![problem],
        documents: 0,
        skipped: 0,
    };
    let too_large = |size: u64| Problem::TooLarge {
        file: id,
        size,
        limit: options.max_file_size,
    };
    let bytes = match bytes {
        Ok(bytes) if bytes.len() as u64 > options.max_file_size => {
            return failed(too_large(bytes.len() as u64), String::new());
        }
        Ok(bytes) => bytes,
        Err(ReadError::TooLarge(size)) => return failed(too_large(size), String::new()),
        Err(ReadError::Io(error)) => {
            return failed(Problem::Unreadable { file: id, error }, String::new());
        }
    };
    // UTF-16 with a byte-order mark (Windows editors write it) is read as
    // kubectl reads it; positions are then those of its characters.
    let bytes = match decode_utf16(&bytes) {
        Some(text) => text.into_bytes(),
        None => bytes,
    };
    if let Some(nul) = memchr::memchr(0, &bytes[..bytes.len().min(8192)]) {
        // Keep the text before the NUL so the snippet shows where it is.
        let text = String::from_utf8_lossy(&bytes[..nul]).into_owned();
        let offset = text.len();
        return failed(Problem::Binary { file: id, offset }, text);
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let offset = err.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
            // Lossy decoding keeps every valid byte before `offset` in place.
            return failed(Problem::InvalidUtf8 { file: id, offset }, text);
        }
    };
    parse_file(id, name, text, &options.limits)
}

/// The text of UTF-16 bytes that start with a byte-order mark (`FF FE`
/// little-endian, `FE FF` big-endian); `None` for anything else. Unpaired
/// surrogates become U+FFFD, as a lossy reader would show them.
pub(crate) fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let units = bytes[2..].chunks(2).map(|pair| match (pair, little) {
        ([a, b], true) => u16::from_le_bytes([*a, *b]),
        ([a, b], false) => u16::from_be_bytes([*a, *b]),
        // An odd last byte: not a character.
        _ => 0xFFFD,
    });
    Some(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

/// Parses one file's text into objects and problems.
fn parse_file(id: FileId, name: String, text: String, limits: &Limits) -> FileLoad {
    let parsed = parse_stream(&text, limits);
    let mut documents = parsed.problems.iter().filter(|p| p.kind.is_fatal()).count();
    let problems = parsed
        .problems
        .into_iter()
        .map(|problem| Problem::Yaml { file: id, problem })
        .collect();
    let mut objects = Vec::new();
    let mut skipped = 0;
    for (index, root) in parsed.documents {
        documents += 1;
        match Object::from_root(id, index, root) {
            Some(object) if object.is_list() => {
                // A List counts as its items, objects or not.
                let skipped_before = skipped;
                let items = object.expand_list(&mut skipped);
                documents -= 1;
                documents += items.len() + (skipped - skipped_before);
                objects.extend(items);
            }
            Some(object) => objects.push(object),
            None => skipped += 1,
        }
    }
    FileLoad {
        source: SourceFile::new(name, text),
        objects,
        problems,
        documents,
        skipped,
    }
}

/// Why an input's bytes could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    TooLarge(u64),
    Io(String),
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    crate::whole_file::read(path, limit).map_err(|e| match e {
        crate::whole_file::ReadError::TooLarge { size, .. } => ReadError::TooLarge(size),
        crate::whole_file::ReadError::Io(e) => ReadError::Io(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_a_byte_order_mark_is_read_as_text() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: é}\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for bytes in [le, be] {
            let ws = load_inputs(
                vec![Input::Read {
                    name: "w.yaml".into(),
                    bytes: Ok(bytes),
                }],
                Vec::new(),
                &LoadOptions::default(),
            );
            assert!(ws.problems.is_empty(), "{:?}", ws.problems);
            assert_eq!(ws.objects.len(), 1);
            assert_eq!(ws.objects[0].name, "é");
        }
        // Without a byte-order mark, NUL bytes still make a binary file.
        assert!(decode_utf16(b"a\0b\0").is_none());
    }

    #[test]
    fn lists_count_as_their_items() {
        let text = "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n  - 3\n---\napiVersion: v1\nkind: List\nitems: []\n---\nkind: Kustomization\n";
        let load = parse_file(FileId(0), "l.yaml".into(), text.into(), &Limits::default());
        assert_eq!(load.objects.len(), 1);
        assert_eq!(load.objects[0].list_item, Some(0));
        // Two items (one not an object) and the kustomization; empty Lists add nothing.
        assert_eq!((load.documents, load.skipped), (3, 2));
    }
}
