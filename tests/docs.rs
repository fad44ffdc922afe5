//! The documentation says what is true: every `cloakroom …` command line the docs show
//! parses (the real binary, with `--help` appended, accepts everything before it), every
//! flag they name is one the binary lists, every setting they name is one the server
//! reads, and every relative link (with its `#anchor`) resolves.
//!
//! Its own test binary, apart from `tests/it`, because it needs no database and no
//! server: it reads Markdown files and runs `cloakroom … --help`. It links none of the
//! server's code, only the binary Cargo builds for it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// README.md and every Markdown file under docs/, with their text.
fn documents() -> Vec<(PathBuf, String)> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut dirs = vec![Path::new(ROOT).join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, text)
        })
        .collect()
}

fn shown(path: &Path) -> String {
    path.strip_prefix(ROOT).unwrap_or(path).display().to_string()
}

/// Numbered lines.
type Lines = Vec<(usize, String)>;
/// A fenced block: its first line's number, its info string, its lines.
type Block = (usize, String, Lines);

/// A Markdown file split into what the checks read: fenced code blocks (their info
/// string and lines), and prose lines with their inline code spans and links.
struct Parsed {
    /// (line number, info string, lines of the block with their numbers)
    blocks: Vec<Block>,
    /// (line number, text) of every line outside code blocks
    prose: Vec<(usize, String)>,
}

fn parse(text: &str) -> Parsed {
    let mut blocks = Vec::new();
    let mut prose = Vec::new();
    // The open block and its fence.
    let mut open: Option<(usize, String, String, Lines)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        let fence = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f));
        match (&mut open, fence) {
            (Some((_, _, f, _)), Some(g)) if *f == g && trimmed.trim_end() == g => {
                let (start, info, _, lines) = open.take().expect("a block is open");
                blocks.push((start, info, lines));
            }
            (Some((_, _, _, lines)), _) => lines.push((n, line.to_owned())),
            (None, Some(g)) => {
                open = Some((n, trimmed[g.len()..].trim().to_owned(), g.to_owned(), Vec::new()));
            }
            (None, None) => prose.push((n, line.to_owned())),
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    Parsed { blocks, prose }
}

/// The inline code spans of a prose line.
fn code_spans(line: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        let fence = "`".repeat(ticks);
        match after.find(&fence) {
            Some(end) => {
                spans.push(after[..end].trim().to_owned());
                rest = &after[end + ticks..];
            }
            None => break,
        }
    }
    spans
}

/// A prose line without its inline code spans (links inside code are not links).
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        match after.find(&"`".repeat(ticks)) {
            Some(end) => {
                out.push_str("CODE");
                rest = &after[end + ticks..];
            }
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits a command line into words as a POSIX shell would for the simple lines the
/// docs show: single and double quotes, `$'…'`, backslashes, and a `#` comment.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => word.push('\n'),
                            Some('t') => word.push('\t'),
                            Some(c) => word.push(c),
                            None => return Err("unclosed $'".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unclosed $'".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            '|' | '&' | ';' | '<' | '>' if !in_word || word.is_empty() => {
                return Err(format!("shell operator {c:?}: show one command a line"));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The arguments of a `cloakroom` command line (after leading `VAR=value`
/// assignments and the program, `cloakroom` or a path ending in `/cloakroom`), or
/// `None` when the line runs something else.
fn cloakroom_args(line: &str) -> Option<Result<Vec<String>, String>> {
    let line = line.trim().trim_start_matches("$ ");
    let first = line.split_whitespace().find(|w| !is_assignment(w))?;
    if first != "cloakroom" && !first.ends_with("/cloakroom") {
        return None;
    }
    Some(shell_words(line).map(|words| {
        words
            .into_iter()
            .skip_while(|w| is_assignment(w))
            .skip(1)
            .collect()
    }))
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        }
        None => false,
    }
}

/// Every `cloakroom` command line the docs show: in shell code blocks (lines joined at
/// a trailing backslash) and in inline code.
fn command_lines(docs: &[(PathBuf, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, text) in docs {
        let parsed = parse(text);
        for (_, info, lines) in &parsed.blocks {
            if !matches!(info.as_str(), "" | "sh" | "bash" | "shell" | "console") {
                continue;
            }
            let mut joined: Option<(usize, String)> = None;
            for (n, line) in lines {
                let (start, mut text) = joined.take().unwrap_or((*n, String::new()));
                text.push_str(line);
                if let Some(stripped) = text.strip_suffix('\\') {
                    joined = Some((start, stripped.to_owned()));
                } else {
                    out.push((format!("{}:{start}", shown(path)), text));
                }
            }
        }
        for (n, line) in &parsed.prose {
            for span in code_spans(line) {
                out.push((format!("{}:{n}", shown(path)), span));
            }
        }
    }
    out
}

fn cloakroom(args: &[String]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cloakroom"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("the cloakroom binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The subcommands and the long flags a `--help` text lists.
fn help_entries(help: &str) -> (Vec<String>, Vec<String>) {
    let (mut commands, mut flags) = (Vec::new(), Vec::new());
    let mut section = "";
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line;
            continue;
        }
        let word = line.split_whitespace().next().unwrap_or("");
        // An entry is indented two spaces; its description's further lines, more.
        let entry = line.starts_with("  ") && !line.starts_with("   ");
        if section == "Commands:" && entry && word != "help" {
            commands.push(word.to_owned());
        }
        if !line.trim_start().starts_with('-') {
            continue;
        }
        for piece in line.split_whitespace().take(2) {
            let piece = piece.trim_end_matches(',');
            if let Some(flag) = piece.strip_prefix("--") {
                let flag = flag.split(['=', ' ', '<']).next().unwrap_or("");
                if !flag.is_empty() {
                    flags.push(format!("--{flag}"));
                }
            }
        }
    }
    (commands, flags)
}

/// Every long flag of the binary, by walking `--help` through every subcommand.
fn every_flag() -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let (ok, help, err) = cloakroom(&args);
        assert!(ok, "cloakroom {} failed: {err}", args.join(" "));
        let (commands, found) = help_entries(&help);
        flags.extend(found);
        for c in commands {
            let mut next = path.clone();
            next.push(c);
            todo.push(next);
        }
    }
    flags
}

#[test]
fn every_cloakroom_command_line_in_the_docs_parses() {
    let docs = documents();
    let mut checked = 0;
    let mut problems = Vec::new();
    for (place, line) in command_lines(&docs) {
        let Some(args) = cloakroom_args(&line) else {
            continue;
        };
        let mut args = match args {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{place}: `{line}`: {e}"));
                continue;
            }
        };
        if let Some(bad) = args.iter().find(|a| a.contains('…') || a.contains("...")) {
            problems.push(format!(
                "{place}: `{line}`: {bad:?} is not an argument; show a real one"
            ));
            continue;
        }
        // Optional parts shown in brackets are shown as given.
        for a in &mut args {
            *a = a.trim_start_matches('[').trim_end_matches(']').to_owned();
        }
        args.retain(|a| !a.is_empty());
        // `--help` goes before a `--` (after it, words belong to the command `run` runs).
        let at = args.iter().position(|a| a == "--").unwrap_or(args.len());
        args.insert(at, "--help".into());
        let (ok, stdout, stderr) = cloakroom(&args);
        checked += 1;
        if !ok || !stdout.contains("Usage:") {
            let why = stderr.lines().next().unwrap_or("no help shown").to_owned();
            problems.push(format!("{place}: `{line}`: {why}"));
        }
    }
    assert!(
        checked >= 20,
        "only {checked} cloakroom command lines were found in the docs"
    );
    assert!(
        problems.is_empty(),
        "command lines that do not parse:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_flag_the_docs_name_is_one_the_binary_lists() {
    let flags = every_flag();
    let mut problems = Vec::new();
    for (path, text) in documents() {
        for (n, line) in parse(&text).prose {
            for span in code_spans(&line) {
                let Some(word) = span.split_whitespace().next() else {
                    continue;
                };
                if word.starts_with("--") && word.len() > 2 {
                    let flag = word.split('=').next().unwrap_or(word);
                    if !flags.contains(flag) {
                        problems.push(format!("{}:{n}: `{span}`: no such flag", shown(&path)));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "flags the binary does not have (it has {flags:?}):\n{}",
        problems.join("\n")
    );
}

/// Every Rust source file under `dir`, with its text.
fn rust_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                out.push((path, text));
            }
        }
    }
    out
}

/// The environment variables the code reads: every `"CLOAKROOM_…"` or `"LEPTOS_…"`
/// string literal in `src/` (the server's settings and the CLI's), and in `tests/` (the
/// test suites' own, such as the PostgreSQL they use).
fn known_variables() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dir in ["src", "tests"] {
        for (_, text) in rust_files(&Path::new(ROOT).join(dir)) {
            for piece in text.split('"').skip(1).step_by(2) {
                if variable_shaped(piece) {
                    names.insert(piece.to_owned());
                }
            }
        }
    }
    names.insert("DATABASE_URL".into());
    names
}

fn variable_shaped(word: &str) -> bool {
    ["CLOAKROOM_", "LEPTOS_"]
        .iter()
        .any(|p| word.starts_with(p) && word.len() > p.len())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The keys of `[server]` in Leptos.toml the server accepts: the fields of the
/// settings file's section struct (`struct ServerSection`, wherever it lives in `src/`;
/// it refuses unknown keys).
fn known_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (_, text) in rust_files(&Path::new(ROOT).join("src")) {
        let Some(start) = text.find("struct ServerSection {") else {
            continue;
        };
        let body = &text[start..];
        let body = &body[..body.find('}').expect("the struct ends")];
        for line in body.lines().skip(1) {
            if let Some((name, _)) = line.trim().split_once(':') {
                keys.insert(name.trim().trim_start_matches("pub ").to_owned());
            }
        }
    }
    assert!(
        keys.len() > 10,
        "the settings file's section struct was not found in src/"
    );
    keys
}

/// A snake_case word that reads as a setting: one counted in a unit of time, size or
/// rate, or kept (`deleted_set_days`, `history_max_bytes`, `deployment_revisions_kept`).
fn setting_shaped(word: &str) -> bool {
    let snake = word.contains('_')
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    snake
        && [
            "_days",
            "_hours",
            "_minutes",
            "_kept",
            "_bytes",
            "_per_day",
            "_per_minute",
            "_size",
        ]
        .iter()
        .any(|s| word.ends_with(s))
}

#[test]
fn every_setting_the_docs_name_exists() {
    let (variables, keys) = (known_variables(), known_keys());
    let mut problems = Vec::new();
    for (path, text) in documents() {
        let parsed = parse(&text);
        let mut all_lines: Vec<(usize, String)> = parsed.prose.clone();
        for (_, _, lines) in &parsed.blocks {
            all_lines.extend(lines.iter().cloned());
        }
        // Environment variables, anywhere.
        for (n, line) in &all_lines {
            for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if variable_shaped(word) && !variables.contains(word) {
                    problems.push(format!(
                        "{}:{n}: {word}: no such environment variable",
                        shown(&path)
                    ));
                }
            }
        }
        // Keys of Leptos.toml: the first column of a settings table, the keys of a
        // `[server]` TOML block, and setting-shaped words in inline code.
        let mut in_settings_table = false;
        for (n, line) in &parsed.prose {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            if !line.trim_start().starts_with('|') {
                in_settings_table = false;
            } else if cells
                .first()
                .is_some_and(|c| c.to_lowercase().starts_with("setting"))
            {
                in_settings_table = true;
            } else if in_settings_table {
                let first = cells.first().copied().unwrap_or("");
                for key in code_spans(first) {
                    if !keys.contains(&key) {
                        problems.push(format!(
                            "{}:{n}: `{key}`: no such setting in Leptos.toml",
                            shown(&path)
                        ));
                    }
                }
            }
            for span in code_spans(line) {
                let key = span.split([' ', '=']).next().unwrap_or("");
                if setting_shaped(key) && !keys.contains(key) {
                    problems.push(format!(
                        "{}:{n}: `{key}`: no such setting in Leptos.toml",
                        shown(&path)
                    ));
                }
            }
        }
        for (_, info, lines) in &parsed.blocks {
            if info != "toml" {
                continue;
            }
            let mut section = String::new();
            for (n, line) in lines {
                let line = line.trim().trim_start_matches('#').trim();
                if line.starts_with('[') {
                    section = line.to_owned();
                } else if section == "[server]" {
                    if let Some((key, _)) = line.split_once('=') {
                        let key = key.trim();
                        if !key.contains(' ') && !keys.contains(key) {
                            problems.push(format!(
                                "{}:{n}: `{key}`: no such setting in Leptos.toml",
                                shown(&path)
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "settings that do not exist:\n{}",
        problems.join("\n")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped but `-` and `_`,
/// spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeMap::<String, usize>::new();
    let mut out = BTreeSet::new();
    for (_, line) in parse(text).prose {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(heading.trim_start_matches('#'));
        let count = seen.entry(base.clone()).or_default();
        out.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    out
}

/// The targets of the Markdown links and images of a prose line.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code(line);
    let mut out = Vec::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else {
            break;
        };
        let target = after[..end].split_whitespace().next().unwrap_or("").to_owned();
        out.push(target.trim_start_matches('<').trim_end_matches('>').to_owned());
        rest = &after[end..];
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let docs = documents();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, text) in &docs {
        for (n, line) in parse(text).prose {
            for target in link_targets(&line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (file, anchor) = match target.split_once('#') {
                    Some((f, a)) => (f, Some(a)),
                    None => (target.as_str(), None),
                };
                let resolved = if file.is_empty() {
                    path.clone()
                } else {
                    path.parent().unwrap().join(file)
                };
                if !resolved.exists() {
                    problems.push(format!("{}:{n}: {target}: no such file", shown(path)));
                    continue;
                }
                if let Some(anchor) = anchor {
                    let is_md = resolved.extension().is_some_and(|e| e == "md");
                    let text = if is_md {
                        std::fs::read_to_string(&resolved).ok()
                    } else {
                        None
                    };
                    if !text.is_some_and(|t| anchors(&t).contains(anchor)) {
                        problems.push(format!("{}:{n}: {target}: no such heading", shown(path)));
                    }
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} relative links were found in the docs"
    );
    assert!(
        problems.is_empty(),
        "links that do not resolve:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_shell_splitter_reads_the_forms_the_docs_use() {
    let words = shell_words(r#"cloakroom secrets set prod A="x y" 'B=a  b ' C=$'l\nm' D=e\ f # note"#);
    assert_eq!(
        words.unwrap(),
        [
            "cloakroom",
            "secrets",
            "set",
            "prod",
            "A=x y",
            "B=a  b ",
            "C=l\nm",
            "D=e f"
        ]
    );
    assert_eq!(
        cloakroom_args("CLOAKROOM_RUNTIME_TOKEN=ckd_x ./target/release/cloakroom run -- ./app")
            .unwrap()
            .unwrap(),
        ["run", "--", "./app"]
    );
    assert!(cloakroom_args("cargo test --features ssr").is_none());
    assert!(shell_words("cloakroom secrets list | head").is_err());
}

#[test]
fn anchors_follow_githubs_rule() {
    assert_eq!(
        slug(" The `.env` grammar: what is refused"),
        "the-env-grammar-what-is-refused"
    );
    let a = anchors("# A\n## Notes\n## Notes\n```\n# not a heading\n```\n");
    assert_eq!(a, BTreeSet::from(["a".into(), "notes".into(), "notes-1".into()]));
}
