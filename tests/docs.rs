//! `docs/rules.md` is generated from the rule registry: this test fails when
//! it is out of date, and `UPDATE_DOCS=1 cargo nextest run --test docs`
//! writes it anew.

use std::path::Path;

use kubectl_inject::rules::RULES;

fn catalogue() -> String {
    let mut out = String::from(
        "<!-- Generated from the rule registry (src/rules/mod.rs) by tests/docs.rs:\n     \
         UPDATE_DOCS=1 cargo nextest run --test docs -->\n\n\
         # Rules\n\n\
         Every rule `kubectl inject` implements, by id. Ids and names are stable and\n\
         never reused; the severity is the default, which `.kubectl-inject.yaml`\n\
         can change (`rules: {INJ302: off}`). Each rule's page is also printed by\n\
         `kubectl inject explain ID`.\n\n\
         | id | name | default | what it finds |\n|---|---|---|---|\n",
    );
    for rule in RULES {
        let page = format!("../src/rules/{}.md", rule.name.replace('-', "_"));
        out.push_str(&format!(
            "| {} | [`{}`]({page}) | {} | {} |\n",
            rule.id,
            rule.name,
            rule.severity,
            rule.summary.replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn the_rule_catalogue_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("docs/rules.md");
    let expected = catalogue();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == expected,
        "docs/rules.md is out of date: run `UPDATE_DOCS=1 cargo nextest run --test docs`"
    );
}

#[test]
fn every_rule_page_linked_from_the_catalogue_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for rule in RULES {
        let page = root.join(format!("src/rules/{}.md", rule.name.replace('-', "_")));
        assert!(page.is_file(), "{}: no page at {}", rule.id, page.display());
    }
}
