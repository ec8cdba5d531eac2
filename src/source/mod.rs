//! Inputs and the source map.
//!
//! Every input file is read once into a [`SourceFile`] that keeps its text and
//! a table of line starts. Diagnostics carry byte ranges; the table turns them
//! into 1-based lines and columns for every report writer, and the same file
//! backs miette's snippets (see [`SourceFile`]'s `SourceCode` impl), so no
//! writer ever rescans a file.

mod discover;
pub mod git;

pub use discover::{DiscoverOptions, Discovered, InputError, absolute_normalized, discover};

use std::ops::Range;
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in a file of the run's source map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileSpan {
    pub file: FileId,
    pub span: Range<usize>,
}

/// `text` with terminal control characters (ESC, BEL, C1 controls…) shown
/// as `?`, keeping every byte offset: snippets of a file cannot drive the
/// terminal that prints them. YAML and JSON allow none of these outside
/// escapes, so a document that holds one did not parse anyway.
fn without_controls(text: Arc<str>) -> Arc<str> {
    let is_control = |c: char| c.is_control() && !matches!(c, '\n' | '\t' | '\r');
    if !text.chars().any(is_control) {
        return text;
    }
    let cleaned: String = text
        .chars()
        .flat_map(|c| {
            let width = if is_control(c) { c.len_utf8() } else { 0 };
            let keep = (width == 0).then_some(c);
            keep.into_iter().chain(std::iter::repeat_n('?', width))
        })
        .collect();
    cleaned.into()
}

/// `text` with terminal control characters written as escapes (`\u{1b}`),
/// for everything printed from input (values in messages, file names).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let is_control = |c: char| c.is_control() && !matches!(c, '\n' | '\t');
    if !text.chars().any(is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if is_control(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Why a relative path written in a file (a configuration's `policies`, a
/// test's `output`) leaves the folder it is relative to, if it does.
pub fn leaves_its_folder(path: &str) -> Option<&'static str> {
    let path = std::path::Path::new(path);
    if path.is_absolute() {
        return Some("is absolute");
    }
    let mut depth = 0i32;
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Some("leaves its folder");
        }
    }
    None
}

/// A 1-based line and column; the column counts characters, as editors,
/// SARIF (`columnKind: unicodeCodePoints`) and GitHub annotations do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// One input file: its display name, its text and its line starts.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user named it (relative where possible), or `<stdin>`.
    pub name: String,
    pub text: Arc<str>,
    line_starts: Vec<usize>,
    /// An object read from a live cluster (`simulate --live`): its text is
    /// the API server's JSON, not a file; findings name the object instead.
    pub live: bool,
    /// A renderer's output (`kustomize build`, `helm template`): not a file
    /// the user edits; findings in it are mapped to the file that wrote them.
    pub rendered: bool,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text = without_controls(text.into());
        let name = printable(&name.into()).into_owned();
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        SourceFile {
            name,
            text,
            line_starts,
            live: false,
            rendered: false,
        }
    }

    /// An object read from a live cluster, named `kind/namespace/name`.
    pub fn live(name: impl Into<String>, json: impl Into<Arc<str>>) -> Self {
        SourceFile {
            live: true,
            ..SourceFile::new(name, json)
        }
    }

    /// A renderer's output, named after what was rendered
    /// (`<kustomize build overlays/prod>`).
    pub fn rendered(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            rendered: true,
            ..SourceFile::new(name, text)
        }
    }

    /// 0-based line index holding `offset`.
    fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Byte offset → 1-based line and character column.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = self.clamp(offset);
        let line = self.line_index(offset);
        let start = self.line_starts[line];
        let column = self.text[start..offset].chars().count() + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }

    /// Start and end positions of a byte range. An empty range ends where it
    /// starts; otherwise the end is the column just past the last character,
    /// as SARIF's `endColumn` and GitHub's `endColumn` expect.
    pub fn range_line_col(&self, range: &Range<usize>) -> (LineCol, LineCol) {
        let start = self.line_col(range.start);
        let end = self.line_col(range.end.max(range.start));
        (start, end)
    }

    /// 1-based line and character column → byte offset (for parser errors,
    /// which report lines and columns).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let line_text = &self.text[start..self.line_end(start)];
        start
            + line_text
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(line_text.len(), |(i, _)| i)
    }

    fn line_end(&self, start: usize) -> usize {
        self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i)
    }

    fn clamp(&self, mut offset: usize) -> usize {
        offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// A line longer than this before the span is shown as a window around it.
const LONG_LINE: usize = 240;
const SNIPPET_BEFORE: usize = 60;
const SNIPPET_AFTER: usize = 120;

impl SourceFile {
    /// The character boundary at or before `offset`.
    fn floor(&self, mut offset: usize) -> usize {
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// The character boundary at or after `offset` (at most the end).
    fn ceil(&self, mut offset: usize) -> usize {
        offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset += 1;
        }
        offset
    }
}

/// miette reads snippets through this impl: a binary search in the line table
/// instead of miette's default scan from byte 0, which costs tens of
/// milliseconds per diagnostic on a 10 MB file.
impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let offset = span.offset();
        let len = span.len();
        if offset + len > self.text.len() {
            return Err(miette::MietteError::OutOfBounds);
        }
        let first_line = self.line_index(offset);
        if context_lines_before == 0 && context_lines_after == 0 {
            // miette asks for the bare span to title the snippet with its
            // position: answer with the span and its own line and column.
            let column = self.text[self.line_starts[first_line]..offset]
                .chars()
                .count();
            return Ok(Box::new(miette::MietteSpanContents::new_named(
                self.name.clone(),
                &self.text.as_bytes()[offset..offset + len],
                *span,
                first_line,
                column,
                1,
            )));
        }
        let last_line = self.line_index((offset + len).saturating_sub(1).max(offset));
        let line_start = self.line_starts[first_line];
        let line_end = self.line_end(line_start);
        if first_line == last_line
            && (offset - line_start > LONG_LINE || line_end - line_start > LONG_LINE * 4)
        {
            // A very long line (minified JSON, a huge value): show a window
            // of it around the span. miette cannot draw an underline that
            // starts past column 65,535, and nobody reads one anyway.
            let start = self.floor(offset.saturating_sub(SNIPPET_BEFORE).max(line_start));
            let end = self.ceil((offset + len).max(offset + SNIPPET_AFTER).min(line_end));
            let column = self.text[line_start..start].chars().count();
            return Ok(Box::new(miette::MietteSpanContents::new_named(
                self.name.clone(),
                &self.text.as_bytes()[start..end],
                (start, end - start).into(),
                first_line,
                column,
                1,
            )));
        }
        let start_line = first_line.saturating_sub(context_lines_before);
        let end_line = (last_line + context_lines_after).min(self.line_starts.len() - 1);
        let start = self.line_starts[start_line];
        let end = self.line_end(self.line_starts[end_line]);
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            &self.text.as_bytes()[start..end],
            (start, end - start).into(),
            start_line,
            0,
            end_line - start_line + 1,
        )))
    }
}

/// All files of one run. Files are added while loading and never removed, so
/// a [`FileId`] stays valid for the whole run.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<Arc<SourceFile>>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(Arc::new(file));
        FileId(u32::try_from(self.files.len() - 1).expect("fewer than 4 billion files"))
    }

    pub fn get(&self, id: FileId) -> &Arc<SourceFile> {
        &self.files[id.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &Arc<SourceFile>)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("a.yaml", "a: 1\nnote: \"héllo\"\nb: 2\n");
        let b = f.text.find("b:").unwrap();
        assert_eq!(f.line_col(b), LineCol { line: 3, column: 1 });
        let quote_end = f.text.find("\"\n").unwrap();
        assert_eq!(
            f.line_col(quote_end),
            LineCol {
                line: 2,
                column: 13
            }
        );
        assert_eq!(f.offset_of(3, 1), b);
        assert_eq!(f.offset_of(2, 13), quote_end);
    }

    #[test]
    fn offsets_past_the_end_are_clamped() {
        let f = SourceFile::new("a.yaml", "é");
        assert_eq!(f.line_col(1), LineCol { line: 1, column: 1 });
        assert_eq!(f.line_col(99), LineCol { line: 1, column: 2 });
        assert_eq!(f.offset_of(7, 1), 2);
    }
}
