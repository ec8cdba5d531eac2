//! Objects per file, to find the one a finding's position falls in.

use std::collections::HashMap;

use super::Object;
use crate::source::FileId;

pub struct ObjectIndex(HashMap<FileId, Vec<usize>>);

impl ObjectIndex {
    pub fn new(objects: &[Object]) -> Self {
        let mut by_file: HashMap<FileId, Vec<usize>> = HashMap::new();
        for (i, object) in objects.iter().enumerate() {
            by_file.entry(object.file).or_default().push(i);
        }
        ObjectIndex(by_file)
    }

    /// The smallest object around `offset` (a `List` item rather than its list).
    pub fn containing<'o>(
        &self,
        objects: &'o [Object],
        file: FileId,
        offset: usize,
    ) -> Option<&'o Object> {
        self.0
            .get(&file)?
            .iter()
            .map(|&i| &objects[i])
            .filter(|o| o.root.span.start <= offset && offset <= o.root.span.end)
            .min_by_key(|o| o.root.span.len())
    }
}
