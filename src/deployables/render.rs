//! Running the real renderers (placeholder).
