//! Words for messages: the one "did you mean" of every finding and error,
//! lists, articles and sentences.

/// The candidate closest to `input`, when it is close enough to be a typo:
/// case is ignored; a swap of two letters counts as one edit
/// (Damerau-Levenshtein); at most 2 edits, or a quarter of the shorter of
/// the two words, and never the whole candidate. `input` itself is no
/// suggestion; of equally close candidates the first wins.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = input.to_lowercase();
    let length = input.chars().count();
    candidates
        .into_iter()
        .filter(|c| *c != input)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| {
            let shorter = length.min(c.chars().count());
            *d <= (shorter / 4).max(2) && *d < c.chars().count()
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub fn list(items: &[String], max: usize) -> String {
    let shown: Vec<String> = items.iter().take(max).map(|i| format!("`{i}`")).collect();
    let more = if items.len() > max { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

pub fn article(noun: &str) -> &'static str {
    if noun.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

pub fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// The first sentence of a description, for help lines.
pub fn first_sentence(text: &str) -> String {
    let end = text
        .match_indices(". ")
        .map(|(i, _)| i + 1)
        .find(|&i| !text[..i].ends_with("e.g.") && !text[..i].ends_with("i.e."))
        .unwrap_or(text.len());
    text[..end].trim().to_owned()
}

/// `2s`, `500ms`, `1m`, `1.5s`: a duration as `--request-timeout` takes it.
pub fn duration(duration: std::time::Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        m if m < 1000 => format!("{m}ms"),
        m if m % 60_000 == 0 => format!("{}m", m / 60_000),
        m if m % 1000 == 0 => format!("{}s", m / 1000),
        _ => format!("{:.1}s", duration.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn typos_only() {
        assert_eq!(
            did_you_mean("resource", ["resources", "ports"]),
            Some("resources")
        );
        assert_eq!(
            did_you_mean("imagepullpolicy", ["imagePullPolicy"]),
            Some("imagePullPolicy")
        );
        assert_eq!(did_you_mean("INJ01", ["INJ001", "INJ010"]), Some("INJ001"));
        assert_eq!(did_you_mean("tmeplate", ["template"]), Some("template"));
        assert_eq!(did_you_mean("foo", ["image", "ports"]), None);
        assert_eq!(did_you_mean("x", ["tty"]), None);
        assert_eq!(did_you_mean("same", ["same"]), None);
    }
}
