//! Everything the client prints goes through here: aligned tables and lines for people,
//! JSON for scripts, questions and the one-line error on stderr.
//!
//! Two kinds of output, and which is which:
//!
//! - **Display**: table cells, result lines ([`say!`]), previews and notes ([`note!`]),
//!   questions, the error line. It mixes the client's own words with text from the
//!   server or the user (names, emails, keys, registries, the server's messages), so
//!   every character a terminal would act on instead of showing (C0 controls, DEL, C1
//!   controls, bidirectional overrides and isolates, line separators) is written as a
//!   visible escape: `\x1b`, `\n`, `\u{202e}`. Nothing is dropped, and an address
//!   holding `ESC ] 0 ;` cannot retitle, clear or rewrite the terminal. One call prints
//!   one line; the line break is the module's own, so a line break inside the text is
//!   shown as `\n` and cannot forge a line of output. A runtime token printed after
//!   `deploy` is display too: a real one is plain ASCII, so escaping never changes it.
//! - **Data**: what a program reads exactly. `--output json` ([`json`]): JSON escapes
//!   C0 controls itself, and this module writes DEL, C1 and the bidirectional
//!   characters as `\uXXXX` too, which a JSON reader decodes to the same text, so the
//!   data stays exact while the terminal stays safe. The environment `run` gives its
//!   command is never printed: it is set on the child byte for byte. No command prints
//!   a secret value; one that does (for piping) must write it through a function of
//!   this module named for it, unescaped, never through [`say!`].
//!
//! The other client files print nothing themselves; a test below keeps it so.

use super::Failure;
use std::borrow::Cow;
use std::fmt::Display;
use std::io::{BufRead, IsTerminal, Write};

/// Whether a terminal could act on `c` rather than show it.
fn is_terminal_control(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(
            c,
            '\u{061c}' // Arabic letter mark
                | '\u{200e}' | '\u{200f}' // left-to-right and right-to-left marks
                | '\u{202a}'..='\u{202e}' // embeddings and overrides
                | '\u{2066}'..='\u{2069}' // isolates
                | '\u{2028}' | '\u{2029}' // line and paragraph separators
        )
}

/// `text` for display: every terminal control written as a visible escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_terminal_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_terminal_control(c) && u32::from(c) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if is_terminal_control(c) => out.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Prints one line of display text on standard output.
pub fn line(text: impl Display) {
    let _ = writeln!(std::io::stdout().lock(), "{}", escape(&text.to_string()));
}

/// Prints one line of display text on standard error: previews, notes, warnings.
pub fn note_line(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{}", escape(&text.to_string()));
}

/// Prints the one-line error of a failed command.
pub fn error(failure: &Failure) {
    note_line(format_args!("cloakroom: {}", failure.message));
}

/// `say!("…", args)`: one line of display text on standard output, as `println!` takes it.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::client::output::line(format_args!($($arg)*))
    };
}

/// `note!("…", args)`: one line of display text on standard error, as `eprintln!` takes it.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::client::output::note_line(format_args!($($arg)*))
    };
}

pub(crate) use {note, say};

/// The lines of a table: rows under a header, each column as wide as its widest cell,
/// every cell escaped first.
fn table_lines(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let escaped: Vec<Vec<Cow<'_, str>>> = std::iter::once(headers.iter().map(|h| escape(h)).collect())
        .chain(
            rows.iter()
                .map(|row| row.iter().map(|cell| escape(cell)).collect()),
        )
        .collect();
    let mut widths = vec![0; headers.len()];
    for row in &escaped {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    escaped
        .iter()
        .map(|cells| {
            let mut out = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<w$}  "));
                }
            }
            out.trim_end().to_owned()
        })
        .collect()
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut stdout = std::io::stdout().lock();
    for line in table_lines(headers, rows) {
        let _ = writeln!(stdout, "{line}");
    }
}

/// JSON text that means the same as `text` and shows no terminal control: JSON already
/// escapes C0 controls; DEL, C1 and the bidirectional characters (which can only stand
/// inside strings) become `\uXXXX`, which decodes to the same character.
fn json_for_terminal(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| u32::from(c) >= 0x7f && is_terminal_control(c))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if u32::from(c) >= 0x7f && is_terminal_control(c) {
            // All of them are in the Basic Multilingual Plane: one `\uXXXX` each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Prints `value` as JSON, for programs: exact data, safe on a terminal.
pub fn json(value: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let _ = writeln!(std::io::stdout().lock(), "{}", json_for_terminal(&text));
}

/// Reads one line from standard input, prompting on stderr when a person is typing.
pub fn read_line(prompt: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{}", escape(prompt));
        let _ = stderr.flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("could not read standard input: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Reads a secret line: hidden when typed at a terminal, else the next line of stdin.
pub fn read_secret(prompt: &str) -> Result<zeroize::Zeroizing<String>, Failure> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(escape(prompt))
            .map(zeroize::Zeroizing::new)
            .map_err(|e| Failure::usage(format!("could not read the answer: {e}")))
    } else {
        read_line(prompt).map(zeroize::Zeroizing::new)
    }
}

/// Asks a yes/no question unless `--yes` was given; anything but "y"/"yes" cancels.
pub fn confirm(question: &str, yes: bool) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{} [y/N] ", escape(question));
        let _ = stderr.flush();
    }
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if !std::io::stdin().is_terminal() {
        let _ = writeln!(std::io::stderr().lock());
    }
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Failure::usage(
            "cancelled; nothing was changed (use --yes to skip this question)",
        )),
    }
}

/// "a, b and c".
pub fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_as_visible_escapes() {
        let cases = [
            ("plain text, ünïcødé ✓ 🙂", "plain text, ünïcødé ✓ 🙂"),
            ("eve\u{1b}[2J@example.com", r"eve\x1b[2J@example.com"),
            ("title\u{1b}]0;pwned\u{7}", r"title\x1b]0;pwned\x07"),
            ("nul\0del\u{7f}", r"nul\x00del\x7f"),
            ("c1 csi\u{9b}2J nel\u{85}", r"c1 csi\x9b2J nel\x85"),
            ("two\nlines\r\tand a tab", r"two\nlines\r\tand a tab"),
            ("abc\u{202e}fed", r"abc\u{202e}fed"),
            (
                "\u{2066}\u{2067}\u{2068}\u{2069}\u{202a}\u{200f}\u{61c}",
                r"\u{2066}\u{2067}\u{2068}\u{2069}\u{202a}\u{200f}\u{061c}",
            ),
            ("line\u{2028}sep", r"line\u{2028}sep"),
            // Text that merely looks like an escape is left alone.
            (r"C:\path\x1b", r"C:\path\x1b"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape(raw), shown, "{raw:?}");
        }
        assert!(matches!(escape("nothing to do"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_control_character_is_escaped_and_nothing_else() {
        let bidi = |c: char| ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c);
        for c in (0..=0x3000).filter_map(char::from_u32) {
            let text = c.to_string();
            let shown = escape(&text);
            if c.is_control() || bidi(c) {
                assert!(
                    shown.starts_with('\\') && shown.is_ascii(),
                    "{c:?} shown as {shown:?}"
                );
            } else if !is_terminal_control(c) {
                assert_eq!(shown, text);
            }
        }
    }

    #[test]
    fn table_cells_are_escaped_and_aligned_by_what_is_shown() {
        let rows = vec![
            vec![
                "1".to_owned(),
                "eve\u{1b}[2J@example.com".to_owned(),
                "x".to_owned(),
            ],
            vec!["2".to_owned(), "a\nforged line".to_owned(), "y".to_owned()],
        ];
        let lines = table_lines(&["V", "WHO", "NOTE"], &rows);
        assert_eq!(
            lines,
            [
                r"V  WHO                     NOTE",
                r"1  eve\x1b[2J@example.com  x",
                r"2  a\nforged line          y",
            ]
        );
    }

    #[test]
    fn json_stays_exact_data_but_shows_no_terminal_control() {
        let hostile = "eve\u{1b}]0;pwned\u{7}\u{9b}2J\u{7f}\u{202e}\u{2066}x\ny ✓";
        let value = serde_json::json!({ "actor": hostile, "keys": ["A"] });
        let text = json_for_terminal(&serde_json::to_string_pretty(&value).unwrap_or_default()).into_owned();
        assert!(
            !text.chars().any(|c| is_terminal_control(c) && c != '\n'),
            "{text:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, value);
        assert_eq!(back["actor"], hostile);
    }

    /// Printing is structural: the other client files print only through this module,
    /// so a new command cannot show server text raw.
    #[test]
    fn other_client_files_print_only_through_this_module() {
        let files = [
            ("client.rs", include_str!("../client.rs")),
            ("api.rs", include_str!("api.rs")),
            ("commands.rs", include_str!("commands.rs")),
            ("config.rs", include_str!("config.rs")),
        ];
        let banned = [
            "println!",
            "print!",
            "eprintln!",
            "eprint!",
            "dbg!",
            "io::stdout",
            "io::stderr",
            "stdout()",
            "stderr()",
            "prompt_password",
        ];
        for (name, text) in files {
            for word in banned {
                assert!(
                    !text.contains(word),
                    "{name} prints with {word}: use client::output"
                );
            }
        }
    }
}
