//! The server's three floors: `store` at the ground, `domain` above it, `web` on top,
//! with imports only downward. Read from the source itself, so a new `use` that runs
//! back up fails here, naming the file and line.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::path::{Path, PathBuf};

/// What each part of `src/` may name with `crate::…` (besides itself).
const RULES: &[(&str, &[&str])] = &[
    ("validate", &[]),
    ("error", &["validate"]),
    ("model", &["validate"]),
    ("deploy_spec", &["model", "error", "validate"]),
    ("store", &["model", "error", "validate"]),
    ("domain", &["store", "deploy_spec", "model", "error", "validate"]),
];

/// Parts that only ever call the domain: never the store or the web floor.
const ABOVE_THE_DOMAIN: &[&str] = &["api", "pages", "components", "client"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of part `name`: `src/name.rs` and everything under `src/name/`.
fn files_of(name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let file = src().join(format!("{name}.rs"));
    if file.exists() {
        out.push(file);
    }
    let mut dirs = vec![src().join(name)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The top-level parts of the crate a file names, with their line numbers: every
/// `crate::part` and every name inside `crate::{…}`, outside comments.
fn named_parts(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_group: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        if in_group.is_some() {
            for name in rest.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                if let Some(first) = name.split("::").next().filter(|n| !n.is_empty()) {
                    out.push((i + 1, first.to_owned()));
                }
            }
            if rest.contains('}') {
                in_group = None;
            }
            continue;
        }
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for name in inner.split(',') {
                    if let Some(first) = name.trim().split("::").next().filter(|n| !n.is_empty()) {
                        out.push((i + 1, first.to_owned()));
                    }
                }
                if !group.contains('}') {
                    in_group = Some(i);
                }
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((i + 1, name));
        }
    }
    out
}

fn violations() -> Vec<String> {
    let mut found = Vec::new();
    let mut check = |part: &str, allowed: &dyn Fn(&str) -> bool| {
        let files = files_of(part);
        assert!(!files.is_empty(), "no files for src/{part}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (line, name) in named_parts(&text) {
                if name != part && !allowed(&name) {
                    found.push(format!(
                        "{}:{line}: {part} names crate::{name}",
                        file.strip_prefix(src()).unwrap().display()
                    ));
                }
            }
        }
    };
    for (part, may) in RULES {
        check(part, &|name| may.contains(&name));
    }
    for part in ABOVE_THE_DOMAIN {
        check(part, &|name| name != "store" && name != "web" && name != "cli");
    }
    found
}

#[test]
fn imports_run_only_downward() {
    let found = violations();
    assert!(
        found.is_empty(),
        "imports that run back up:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_that_runs_back_up() {
    let text = "use crate::error::AppError;\n// crate::web in a comment is fine\nuse crate::{model::Role,\n    domain::auth};\nfn f() { crate::web::rest::x() }\n";
    let names: Vec<String> = named_parts(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["error", "model", "domain", "web"]);
}
