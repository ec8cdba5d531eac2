//! Where in the embedded schemas a validation error's keyword sits, and what
//! that schema object says: its property names, its description, the
//! condition that made a field required, the Kubernetes type it stands for.

use jsonschema::ValidationError;
use serde_json::Value as Json;

/// The schema object that an error's keyword belongs to, in the embedded
/// documents.
pub struct SchemaAt {
    document: &'static Json,
    /// JSON pointer of the schema object (the keyword's parent).
    pointer: String,
    keyword: String,
}

impl SchemaAt {
    pub fn of(error: &ValidationError<'_>) -> Option<SchemaAt> {
        let location = error.absolute_keyword_location()?;
        let (uri, fragment) = location.as_str().split_once('#')?;
        let document = crate::schema::document(uri)?;
        let (pointer, keyword) = fragment.rsplit_once('/')?;
        Some(SchemaAt {
            document,
            pointer: pointer.to_owned(),
            keyword: keyword.to_owned(),
        })
    }

    pub fn schema(&self) -> Option<&'static Json> {
        self.document.pointer(&self.pointer)
    }

    /// The value of the keyword that failed.
    pub fn keyword(&self) -> Option<&'static Json> {
        self.schema()?.get(&self.keyword)
    }

    /// The schema that declares the properties of the object: the keyword's
    /// own, or the one enclosing an `if`/`then`/`else`/`allOf` part.
    pub fn object_schema(&self) -> Option<&'static Json> {
        let mut pointer = self.pointer.as_str();
        loop {
            let schema = self.document.pointer(pointer)?;
            if schema.get("properties").is_some() {
                return Some(schema);
            }
            let (parent, last) = pointer.rsplit_once('/')?;
            pointer = match last {
                "then" | "else" => parent,
                _ if parent.ends_with("/allOf")
                    || parent.ends_with("/anyOf")
                    || parent.ends_with("/oneOf") =>
                {
                    parent.rsplit_once('/')?.0
                }
                _ => return None,
            };
        }
    }

    pub fn property_names(&self) -> Vec<String> {
        self.object_schema()
            .and_then(|s| s.get("properties"))
            .and_then(Json::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn property_description(&self, field: &str) -> Option<String> {
        let property = self.object_schema()?.get("properties")?.get(field)?;
        let description = property.get("description").or_else(|| {
            // A bare `$ref` to another definition of the same document.
            let target = property.get("$ref")?.as_str()?.strip_prefix('#')?;
            self.document.pointer(target)?.get("description")
        })?;
        description.as_str().map(str::to_owned)
    }

    /// The description of the schema the keyword is in (the field's).
    pub fn description(&self) -> Option<String> {
        self.schema()?
            .get("description")?
            .as_str()
            .map(str::to_owned)
    }

    /// `Container` when the schema is the Kubernetes definition
    /// `io.k8s.api.core.v1.Container`.
    pub fn k8s_type(&self) -> Option<String> {
        let name = self.pointer.strip_prefix("/$defs/")?;
        if name.contains('/') || !name.starts_with("io.k8s.") {
            return None;
        }
        name.rsplit('.').next().map(str::to_owned)
    }

    /// "required when `action` is `inject`", for a `required` in a `then`.
    pub fn condition(&self) -> Option<String> {
        let (parent, last) = self.pointer.rsplit_once('/')?;
        if last != "then" {
            return None;
        }
        let condition = self
            .document
            .pointer(parent)?
            .get("if")?
            .get("properties")?
            .as_object()?;
        let parts: Vec<String> = condition
            .iter()
            .filter_map(|(name, s)| Some(format!("`{name}` is `{}`", show_json(s.get("const")?))))
            .collect();
        (!parts.is_empty()).then(|| format!("required when {}", parts.join(" and ")))
    }
}

pub fn show_json(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
