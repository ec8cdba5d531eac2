//! Origins of rendered objects (placeholder).
