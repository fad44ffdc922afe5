//! Reading `KEY=value` text — pasted pairs and `.env` files — the way a POSIX shell reads
//! a file of assignments (`set -a; . ./file`), without ever running anything or
//! reading anything from outside the text.
//!
//! The grammar, in full (`docs/dotenv.md` says the same
//! for users):
//!
//! - A UTF-8 byte order mark at the very start is skipped, and every carriage return
//!   right before a line feed is dropped (CRLF files read like LF files).
//! - Commands end at a line feed or an unquoted `;`. A command is an optional `export`
//!   and then words; blanks (space, tab) separate words; a `#` at the start of a word
//!   starts a comment to the end of the line.
//! - Quoting: `'…'` keeps everything literally; `"…"` keeps everything but `$` and
//!   backquote, and a backslash in it escapes only `$`, `` ` ``, `"`, `\` and a line feed;
//!   outside quotes a backslash escapes any character; backslash + line feed joins lines;
//!   `$'…'` is ANSI-C quoting (`\n`, `\t`, `\xHH`, octal; not `\u`, which depends on the
//!   locale). Quoted text may span lines.
//! - Each word must be `KEY=value`, split at the first `=`; after `export`, a bare name
//!   the text set earlier is allowed too (it changes nothing, as in a shell).
//! - In a value, outside single quotes, `$NAME` and `${NAME}` are replaced by the value
//!   that NAME was given earlier in the same text. Everything else that a shell would
//!   replace — a name not set earlier, `$1`, `$$`, `${X:-y}`, `$(…)`, backquotes, an
//!   unquoted `~` at the start of a value or after `:`, `{a,b}` after `export` — is
//!   refused with its line, because its result would depend on the machine reading it.
//!   A `$` that a shell keeps (`a$`, `$/`) is kept.
//! - `|`, `&`, `<`, `>`, `(` and `)` outside quotes are shell syntax and refused.
//!
//! Where we part from the shell on purpose: keys follow Cloakroom's key rule (so `-` and
//! a leading digit are allowed, and a key may be quoted, as in `"KEY=a b"`); a key given
//! twice, `+=`, and text with no pair at all are refused. Nothing here puts a value into
//! an error message.

use super::{quoted, FieldError, Problems, SecretKey, SET_MAX_BYTES, VALUE_MAX_BYTES};
use std::collections::HashMap;

/// Reads `text` into raw `(key, value)` pairs in order, adding every problem found to
/// `problems`. An error that leaves the rest of the text unreadable (a quote never
/// closed) is returned alone as `Err`.
pub(super) fn read(text: &str, problems: &mut Problems) -> Result<Vec<(String, String)>, FieldError> {
    read_counting(text, problems).0
}

/// [`read`], and the steps it took: the characters it visited plus every lookup and
/// every element of a scan, so a test can check that work grows linearly with the text.
fn read_counting(text: &str, problems: &mut Problems) -> (Result<Vec<(String, String)>, FieldError>, usize) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() + 1;
        let e = FieldError::new(
            format!("line {line}"),
            format!("line {line}: the text holds a NUL character, which a shell drops; remove it"),
        );
        return (Err(e), text.len());
    }
    let normalized;
    let text = if text.contains("\r\n") {
        normalized = text.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        text
    };
    let mut reader = Reader {
        // The checks above each pass over the text once.
        steps: 2 * text.len(),
        rest: text,
        line: 1,
        counted_line: 0,
        index_on_line: 0,
        defined: HashMap::new(),
        expanded: 0,
        problems,
        out: Vec::new(),
        seen: HashMap::new(),
        pending: HashMap::new(),
    };
    let out = reader.run();
    (out, reader.steps)
}

struct Reader<'t, 'p> {
    /// Work done so far (see [`read_counting`]).
    steps: usize,
    rest: &'t str,
    line: usize,
    // Which line the last word was counted on, and how many words that line has so far.
    counted_line: usize,
    index_on_line: usize,
    /// Values given so far to keys that are shell names, for `$NAME`.
    defined: HashMap<String, String>,
    /// Bytes added by `$NAME` replacements so far (capped, so a short text cannot
    /// expand into gigabytes).
    expanded: usize,
    problems: &'p mut Problems,
    out: Vec<(String, String)>,
    /// The line each key was given on.
    seen: HashMap<String, usize>,
    /// What the current `export` command assigns, set once the command ends (its keys
    /// are distinct: a key given twice is refused before it gets here).
    pending: HashMap<String, String>,
}

/// One word after quote removal and replacements.
struct Word {
    text: String,
    line: usize,
    index: usize,
    /// Whether the word contains `=` (its first one splits key from value).
    has_eq: bool,
    /// A problem inside the word was already reported; the word is not used.
    spoiled: bool,
    /// No quote, backslash or `$` was read: the word is exactly as written.
    literal: bool,
    /// Where the value starts in `text` (just past the first `=`).
    value_start: Option<usize>,
}

/// What ends reading: a quote or substitution that is never closed.
type Fatal = FieldError;

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `s` is a shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_shell_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// Names bash manages itself: an assignment to one is dropped, ignored or read back
/// differently (`SHLVL=9` comes out as 8, `RANDOM=5` seeds a generator), and some are
/// read-only.
pub(super) const SHELL_OWNED: &[&str] = &[
    "_",
    "BASH",
    "BASHOPTS",
    "BASHPID",
    "BASH_ALIASES",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_ARGV0",
    "BASH_CMDS",
    "BASH_COMMAND",
    "BASH_LINENO",
    "BASH_SOURCE",
    "BASH_SUBSHELL",
    "BASH_VERSINFO",
    "BASH_VERSION",
    "COMP_WORDBREAKS",
    "DIRSTACK",
    "EPOCHREALTIME",
    "EPOCHSECONDS",
    "EUID",
    "FUNCNAME",
    "GROUPS",
    "HISTCMD",
    "LINENO",
    "PIPESTATUS",
    "PPID",
    "RANDOM",
    "SECONDS",
    "SHELLOPTS",
    "SHLVL",
    "SRANDOM",
    "UID",
];

/// The text before `=` when it is shaped like an attempted key (letters, digits, `_`,
/// `-`, `.` and spaces, at most 64 characters), so naming it helps; anything else may be
/// a piece of a value split at a space (`postgres://u:pw@h/db?x=y`, a token), and is not
/// repeated in a message.
fn shown_key(key: &str) -> Option<&str> {
    (key.len() <= super::KEY_MAX_LEN
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ')))
    .then_some(key)
}

fn is_operator(c: char) -> bool {
    matches!(c, '|' | '&' | '<' | '>' | '(' | ')')
}

fn never_closed(line: usize, what: &str) -> Fatal {
    FieldError::new(
        format!("line {line}"),
        format!("line {line}: the {what} opened here is never closed"),
    )
}

fn quote_never_closed(line: usize, word: usize, kind: &str) -> Fatal {
    FieldError::new(
        format!("line {line}"),
        format!("line {line}, word {word}: the {kind} quote opened here is never closed"),
    )
}

impl Reader<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.steps += 1;
        self.rest = &self.rest[c.len_utf8()..];
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn problem(&mut self, line: usize, message: impl std::fmt::Display) {
        self.problems.push(FieldError::new(
            format!("line {line}"),
            format!("line {line}: {message}"),
        ));
    }

    /// Skips backslash + line feed pairs: a shell removes them before reading anything
    /// else, so `$\⏎A`, `A=\⏎~` and `$A\⏎B` read as `$A`, `A=~` and `$AB`.
    fn skip_joins(&mut self) {
        while let Some(rest) = self.rest.strip_prefix("\\\n") {
            self.steps += 1;
            self.rest = rest;
            self.line += 1;
        }
    }

    /// Skips to the end of the current line (not past its line feed).
    fn skip_line(&mut self) {
        let end = self.rest.find('\n').unwrap_or(self.rest.len());
        self.steps += end;
        self.rest = &self.rest[end..];
    }

    fn run(&mut self) -> Result<Vec<(String, String)>, Fatal> {
        // One command per iteration.
        loop {
            let mut words = 0usize;
            let mut export = false;
            let mut export_line = 0;
            loop {
                loop {
                    self.skip_joins();
                    if !matches!(self.peek(), Some(' ' | '\t')) {
                        break;
                    }
                    self.bump();
                }
                match self.peek() {
                    None | Some('\n') | Some(';') => {
                        let end = self.peek();
                        if export && words == 1 {
                            self.problem(export_line, "`export` needs at least one KEY=value after it");
                        }
                        if end == Some(';') && words == 0 {
                            self.problem(
                                self.line,
                                "a `;` with no assignment before it is a shell syntax error",
                            );
                        }
                        self.end_command();
                        match self.bump() {
                            None => return Ok(std::mem::take(&mut self.out)),
                            Some(_) => break,
                        }
                    }
                    Some('#') => self.skip_line(),
                    Some(c) if is_operator(c) => {
                        self.problem(
                            self.line,
                            format_args!(
                                "`{c}` outside quotes is shell syntax ({}); put quotes around a value that contains it",
                                match c {
                                    '|' => "a pipe",
                                    '&' => "it runs a command in the background",
                                    '<' | '>' => "a redirection",
                                    _ => "a subshell or an array",
                                }
                            ),
                        );
                        self.skip_line();
                    }
                    Some(_) => {
                        let word = self.word(export)?;
                        words += 1;
                        if words == 1 && !word.has_eq && word.text == "export" && !word.spoiled {
                            if !word.literal {
                                self.problem(
                                    word.line,
                                    "a quoted or escaped `export` is an ordinary command to a shell, \
                                     which splits its values at spaces; write export without quotes",
                                );
                            }
                            export = true;
                            export_line = word.line;
                            continue;
                        }
                        self.take(word, export);
                    }
                }
            }
        }
    }

    /// Uses one finished word: a pair, a bare name after `export`, or a problem.
    fn take(&mut self, word: Word, export: bool) {
        if word.spoiled {
            return;
        }
        let Word {
            text,
            line,
            index,
            has_eq,
            ..
        } = word;
        if !has_eq {
            if !export {
                self.problems.push(FieldError::new(
                    format!("line {line}"),
                    format!(
                        "line {line}, word {index}: expected KEY=value but this word has no \"=\" \
                         (put quotes around a value that contains spaces)"
                    ),
                ));
            } else if text.starts_with('-') {
                self.problem(
                    line,
                    "options of `export` are not supported; write export KEY=value",
                );
            } else if !self.is_set(&text) {
                // A shell would export whatever it has under that name: its own
                // variables (HOSTNAME, BASH_VERSION, …) or its environment's.
                self.problem(
                    line,
                    format_args!(
                        "word {index}: `export` without \"=\" names something not set earlier in this \
                         text, so a shell would export its own value for it; write export KEY=value"
                    ),
                );
            }
            // `export NAME` of a name set earlier changes nothing, as in a shell run with
            // `set -a`.
            return;
        }
        let (key, value) = text.split_once('=').expect("has_eq");
        if let Some(base) = key.strip_suffix('+') {
            if SecretKey::parse(base).is_ok() {
                self.problem(
                    line,
                    format_args!(
                        "word {index}: `+=` appends to a value in a shell; give the whole value once"
                    ),
                );
                return;
            }
        }
        if let Err(e) = SecretKey::parse(key) {
            match shown_key(key) {
                Some(_) => self.problem(line, e.message),
                None => self.problem(
                    line,
                    format_args!(
                        "word {index}: the text before \"=\" is not a key ({}); it is not repeated \
                         here because it may be part of a value (put quotes around a value that \
                         contains spaces)",
                        super::KEY_RULE
                    ),
                ),
            }
            return;
        }
        if SHELL_OWNED.contains(&key) {
            self.problem(
                line,
                format_args!(
                    "{key} is a variable bash sets itself, so a shell would not keep this value; \
                     add this key in the editor or as JSON if you mean it"
                ),
            );
            return;
        }
        if let Some(first) = self.seen.get(key) {
            let first = *first;
            self.problem(
                line,
                format_args!(
                    "key {} is given again (first on line {first}); a shell would keep the last \
                     value without a word, so keep only the one you mean",
                    quoted(key)
                ),
            );
            return;
        }
        self.seen.insert(key.to_owned(), line);
        if is_shell_name(key) {
            if export {
                // `export` expands all its words before it assigns any: `export A=1
                // B=$A` reads the A from before the line.
                self.pending.insert(key.to_owned(), value.to_owned());
            } else {
                self.defined.insert(key.to_owned(), value.to_owned());
            }
        }
        self.out.push((key.to_owned(), value.to_owned()));
    }

    /// Whether `name` was set earlier in the text or by the current `export` command:
    /// two lookups, never a scan (one command may hold a hundred thousand words).
    fn is_set(&mut self, name: &str) -> bool {
        self.steps += 2;
        self.defined.contains_key(name) || self.pending.contains_key(name)
    }

    /// Ends a command: what `export` assigned is now set for later commands.
    fn end_command(&mut self) {
        self.steps += self.pending.len();
        for (k, v) in std::mem::take(&mut self.pending) {
            self.defined.insert(k, v);
        }
    }

    /// Reads one word, up to an unquoted blank, line feed, `;` or operator.
    fn word(&mut self, export: bool) -> Result<Word, Fatal> {
        let line = self.line;
        if self.counted_line != line {
            self.counted_line = line;
            self.index_on_line = 0;
        }
        self.index_on_line += 1;
        let mut w = Word {
            text: String::new(),
            line,
            index: self.index_on_line,
            has_eq: false,
            spoiled: false,
            literal: true,
            value_start: None,
        };
        // Where a shell would do tilde expansion: right after the first `=`, and after
        // an unquoted `:` in the value.
        let mut tilde_spot = false;
        // After `export`, a shell does brace expansion: `{`, then `,` or `..`, then `}`.
        let mut brace = BraceWatch::default();
        loop {
            self.skip_joins();
            let Some(c) = self.peek() else { break };
            if matches!(c, ' ' | '\t' | '\n' | ';') || is_operator(c) {
                break;
            }
            let spot = std::mem::take(&mut tilde_spot);
            if matches!(c, '\'' | '"' | '\\' | '$') {
                w.literal = false;
            }
            match c {
                '\'' => {
                    let start = self.line;
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(quote_never_closed(start, w.index, "single")),
                            Some('\'') => break,
                            Some(c) => w.push(c),
                        }
                    }
                }
                '"' => self.double_quoted(&mut w)?,
                '\\' => {
                    self.bump();
                    match self.bump() {
                        Some('\n') => {}
                        Some(e) => w.push(e),
                        None => w.push('\\'),
                    }
                }
                '$' if w.has_eq => {
                    self.bump();
                    self.skip_joins();
                    if self.peek() == Some('\'') {
                        self.ansi_c(&mut w)?;
                    } else {
                        self.dollar(&mut w, false)?;
                    }
                }
                '`' if w.has_eq => self.backquote(&mut w)?,
                '~' if spot && w.has_eq => {
                    self.bump();
                    self.problem(
                        self.line,
                        "a shell replaces an unquoted `~` at the start of a value or after `:` with a \
                         home directory; put it in quotes ('~') to keep it",
                    );
                    w.spoiled = true;
                }
                _ => {
                    self.bump();
                    let first_eq = c == '=' && !w.has_eq;
                    w.push(c);
                    tilde_spot = first_eq || (c == ':' && w.has_eq);
                    if export && brace.see(c) {
                        self.problem(
                            self.line,
                            "after `export`, a shell expands `{a,b}` and `{1..3}` into several words; \
                             put quotes around a value that contains braces",
                        );
                        w.spoiled = true;
                    }
                }
            }
            if c != '\\' && c != '\'' && c != '"' {
                continue;
            }
            // A quoted character is never a tilde or brace for the shell.
            brace.quoted();
        }
        Ok(w)
    }

    fn double_quoted(&mut self, w: &mut Word) -> Result<(), Fatal> {
        let start = self.line;
        self.bump();
        loop {
            match self.peek() {
                None => return Err(quote_never_closed(start, w.index, "double")),
                Some('"') => {
                    self.bump();
                    return Ok(());
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some('\n') => {
                            self.bump();
                        }
                        Some(e @ ('"' | '\\' | '$' | '`')) => {
                            self.bump();
                            w.push(e);
                        }
                        _ => w.push('\\'),
                    }
                }
                Some('$') if w.has_eq => {
                    self.bump();
                    self.dollar(w, true)?;
                }
                Some('`') if w.has_eq => self.backquote(w)?,
                Some(c) => {
                    self.bump();
                    w.push(c);
                }
            }
        }
    }

    /// After a `$` (already read) in a value: a replacement, a refusal, or a plain `$`.
    fn dollar(&mut self, w: &mut Word, in_double_quotes: bool) -> Result<(), Fatal> {
        self.skip_joins();
        let line = self.line;
        match self.peek() {
            Some(c) if is_name_start(c) => {
                let mut name = String::new();
                loop {
                    self.skip_joins();
                    match self.peek() {
                        Some(c) if is_name_char(c) => {
                            self.bump();
                            name.push(c);
                        }
                        _ => break,
                    }
                }
                self.replace(w, &name, line, &format!("${name}"));
            }
            Some('{') => {
                let Some(end) = self
                    .rest
                    .find(['}', '\n'])
                    .filter(|&i| self.rest[i..].starts_with('}'))
                else {
                    self.problem(line, "`${` is never closed on its line");
                    self.skip_line();
                    w.spoiled = true;
                    return Ok(());
                };
                self.steps += end;
                let inner = self.rest[1..end].to_owned();
                self.rest = &self.rest[end + 1..];
                if is_shell_name(&inner) {
                    self.replace(w, &inner, line, &format!("${{{inner}}}"));
                } else {
                    self.problem(
                        line,
                        "only ${NAME} is read inside `${…}`; defaults, lengths and patterns are shell \
                         features Cloakroom does not run (write \\${ to keep the text)",
                    );
                    w.spoiled = true;
                }
            }
            Some('(') => {
                self.skip_nested(line)?;
                self.problem(
                    line,
                    "`$(…)` runs a command in a shell, which Cloakroom never does; put the value in \
                     single quotes to keep the text",
                );
                w.spoiled = true;
            }
            Some('[') => {
                self.problem(
                    line,
                    "`$[…]` is shell arithmetic; put the value in single quotes to keep the text",
                );
                w.spoiled = true;
            }
            Some(c) if c.is_ascii_digit() || "@*#?-$!".contains(c) => {
                self.bump();
                self.problem(
                    line,
                    format_args!(
                        "`${c}` is one of a shell's special parameters, which depend on the shell \
                         reading the file; write \\${c} or use single quotes to keep it"
                    ),
                );
                w.spoiled = true;
            }
            Some('"') if !in_double_quotes => {
                self.problem(
                    line,
                    "`$\"…\"` is translated by a shell; drop the `$` before the quote",
                );
                w.spoiled = true;
            }
            _ => w.push('$'),
        }
        Ok(())
    }

    /// Replaces `$NAME` with the value NAME was given earlier in the text.
    fn replace(&mut self, w: &mut Word, name: &str, line: usize, written: &str) {
        if name == "_" {
            self.problem(
                line,
                "`$_` is one of a shell's special parameters; write \\$_ or use single quotes to keep it",
            );
            w.spoiled = true;
            return;
        }
        let Some(value) = self.defined.get(name) else {
            self.problem(
                line,
                format_args!(
                    "`{written}` is not set earlier in this text, so a shell would take it from its \
                     own environment or leave it empty; write \\{written} or use single quotes to keep \
                     the `$`"
                ),
            );
            w.spoiled = true;
            return;
        };
        if w.spoiled {
            return;
        }
        let value_len = w.text.len() - w.value_start.unwrap_or(0);
        if value_len + value.len() > VALUE_MAX_BYTES || self.expanded + value.len() > SET_MAX_BYTES {
            self.problem(
                line,
                format_args!(
                    "replacing `{written}` makes the value longer than {VALUE_MAX_BYTES} bytes or \
                     all values longer than {SET_MAX_BYTES} bytes"
                ),
            );
            w.spoiled = true;
            return;
        }
        self.expanded += value.len();
        self.steps += value.len();
        w.text.push_str(value);
    }

    /// Skips a `$(…)` (at its `(`), counting nested parentheses and skipping quotes.
    fn skip_nested(&mut self, line: usize) -> Result<(), Fatal> {
        let mut depth = 0usize;
        loop {
            match self.bump() {
                None => return Err(never_closed(line, "`$(`")),
                Some('(') => depth += 1,
                Some(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Some('\\') => {
                    self.bump();
                }
                Some(q @ ('\'' | '"')) => loop {
                    match self.bump() {
                        None => return Err(never_closed(line, "`$(`")),
                        Some('\\') if q == '"' => {
                            self.bump();
                        }
                        Some(c) if c == q => break,
                        Some(_) => {}
                    }
                },
                Some(_) => {}
            }
        }
    }

    /// A backquoted command (at its opening backquote): skipped and refused.
    fn backquote(&mut self, w: &mut Word) -> Result<(), Fatal> {
        let line = self.line;
        self.bump();
        loop {
            match self.bump() {
                None => return Err(never_closed(line, "backquote")),
                Some('\\') => {
                    self.bump();
                }
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.problem(
            line,
            "backquotes run a command in a shell, which Cloakroom never does; put the value in \
             single quotes to keep them",
        );
        w.spoiled = true;
        Ok(())
    }

    /// `$'…'` (at its quote): ANSI-C escapes, decoded as bash does.
    fn ansi_c(&mut self, w: &mut Word) -> Result<(), Fatal> {
        let line = self.line;
        self.bump();
        let mut bytes: Vec<u8> = Vec::new();
        let mut bad: Option<&'static str> = None;
        loop {
            let Some(c) = self.bump() else {
                return Err(never_closed(line, "`$'` quote"));
            };
            match c {
                '\'' => break,
                '\\' => {
                    let Some(e) = self.bump() else {
                        return Err(never_closed(line, "`$'` quote"));
                    };
                    let simple = match e {
                        'a' => Some(7u8),
                        'b' => Some(8),
                        'e' | 'E' => Some(0x1b),
                        'f' => Some(0x0c),
                        'n' => Some(b'\n'),
                        'r' => Some(b'\r'),
                        't' => Some(b'\t'),
                        'v' => Some(0x0b),
                        '\\' | '\'' | '"' | '?' => Some(e as u8),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        bytes.push(b);
                        continue;
                    }
                    match e {
                        '0'..='7' => {
                            let mut n = u32::from(e as u8 - b'0');
                            for _ in 0..2 {
                                match self.peek().and_then(|d| d.to_digit(8)) {
                                    Some(d) => {
                                        self.bump();
                                        n = n * 8 + d;
                                    }
                                    None => break,
                                }
                            }
                            bytes.push((n & 0xff) as u8);
                        }
                        'x' | 'u' | 'U' => {
                            let most = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let mut n: u32 = 0;
                            let mut digits = 0;
                            if e == 'x' && self.peek() == Some('{') {
                                // bash's `\x{HH…}`: any number of digits, the low byte kept.
                                self.bump();
                                while let Some(d) = self.peek().and_then(|d| d.to_digit(16)) {
                                    self.bump();
                                    n = n.wrapping_mul(16).wrapping_add(d);
                                }
                                if self.peek() == Some('}') {
                                    self.bump();
                                }
                                bytes.push((n & 0xff) as u8);
                                continue;
                            }
                            while digits < most {
                                match self.peek().and_then(|d| d.to_digit(16)) {
                                    Some(d) => {
                                        self.bump();
                                        n = n * 16 + d;
                                        digits += 1;
                                    }
                                    None => break,
                                }
                            }
                            if digits == 0 {
                                bytes.push(b'\\');
                                bytes.extend(e.to_string().as_bytes());
                            } else if e == 'x' {
                                bytes.push(n as u8);
                            } else {
                                // bash writes these in the reader's locale (and leaves
                                // them as typed in the C locale): not the same everywhere.
                                bad = Some("a \\u or \\U escape, which a shell decodes by its locale");
                            }
                        }
                        'c' => bad = Some("a \\c control escape"),
                        other => {
                            bytes.push(b'\\');
                            bytes.extend(other.to_string().as_bytes());
                        }
                    }
                }
                c => bytes.extend(c.to_string().as_bytes()),
            }
        }
        if bytes.contains(&0) {
            bad = bad.or(Some("a NUL character, which a shell cuts the value at"));
        }
        match (bad, String::from_utf8(bytes)) {
            (None, Ok(s)) => {
                if !w.spoiled {
                    w.text.push_str(&s);
                }
            }
            (why, _) => {
                self.problem(
                    line,
                    format_args!(
                        "`$'…'` here holds {}; write the value with plain quotes",
                        why.unwrap_or("bytes that are not UTF-8 text")
                    ),
                );
                w.spoiled = true;
            }
        }
        Ok(())
    }
}

impl Word {
    fn push(&mut self, c: char) {
        if !self.spoiled {
            self.text.push(c);
        }
        if c == '=' && !self.has_eq {
            self.has_eq = true;
            self.value_start = Some(self.text.len());
        }
    }
}

/// Notices `{`, then `,` or `..`, then `}`, all unquoted: what a shell brace-expands.
#[derive(Default)]
struct BraceWatch {
    open: bool,
    separated: bool,
    last_dot: bool,
}

impl BraceWatch {
    /// Sees one unquoted character; true when it completes a brace expansion.
    fn see(&mut self, c: char) -> bool {
        let dot = c == '.';
        match c {
            '{' => {
                self.open = true;
                self.separated = false;
            }
            ',' if self.open => self.separated = true,
            '.' if self.open && self.last_dot => self.separated = true,
            '}' if self.open && self.separated => return true,
            _ => {}
        }
        self.last_dot = dot;
        false
    }

    fn quoted(&mut self) {
        self.last_dot = false;
    }
}

/// Work grows linearly with the text, whatever its shape: the reader's step count (every
/// character visited, every lookup, every element of any scan) for a text made of `4n`
/// copies of a pattern is at most about four times that of `n` copies. Steps, not
/// seconds, so the check is exact on any machine.
#[cfg(test)]
mod linear {
    use super::super::Problems;
    use proptest::prelude::*;

    fn steps(text: &str) -> usize {
        super::read_counting(text, &mut Problems::default()).1
    }

    /// One word of a pattern; `r` is the copy, `i` the word's place in the pattern, so
    /// every key is new.
    #[derive(Debug, Clone, Copy)]
    enum Piece {
        Assign,
        /// `export`'s bare name of the key the command assigned last.
        BareOfThisCommand,
        /// A bare name set on the first line.
        BareOfEarlier,
        /// A bare name never set (refused, and read on).
        BareUnknown,
        /// A value that replaces a name set earlier.
        Reference,
        /// A long word.
        Long(usize),
        Quoted,
        /// A brace expansion (refused, and read on).
        Braces,
    }

    #[derive(Debug, Clone, Copy)]
    enum Layout {
        /// Every copy in one `export` command.
        OneExport,
        /// One `export` line per copy.
        ExportLines,
        /// One command per copy, separated by `;` on one line.
        Semicolons,
    }

    fn render(pattern: &[Piece], layout: Layout, copies: usize) -> String {
        let mut out = String::from("E=1\n");
        if let Layout::OneExport | Layout::Semicolons = layout {
            out.push_str("export");
        }
        for r in 0..copies {
            match layout {
                Layout::OneExport => {}
                Layout::ExportLines => out.push_str("export"),
                Layout::Semicolons => {
                    if r > 0 {
                        out.push_str("; export");
                    }
                }
            }
            let mut last = None;
            for (i, piece) in pattern.iter().enumerate() {
                let key = format!("K{r}_{i}");
                let word = match piece {
                    Piece::Assign => {
                        last = Some(key.clone());
                        format!("{key}=v{r}")
                    }
                    Piece::BareOfThisCommand => last.clone().unwrap_or_else(|| format!("U{r}_{i}")),
                    Piece::BareOfEarlier => "E".to_owned(),
                    Piece::BareUnknown => format!("U{r}_{i}"),
                    Piece::Reference => format!("{key}=\"$E-${{E}}\""),
                    Piece::Long(n) => format!("{key}={}", "x".repeat(*n)),
                    Piece::Quoted => format!("{key}='a b'\"c d\"\\ e"),
                    Piece::Braces => format!("{key}={{a,b}}"),
                };
                out.push(' ');
                out.push_str(&word);
            }
            if let Layout::ExportLines = layout {
                out.push('\n');
            }
        }
        out.push('\n');
        out
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            4 => Just(Piece::Assign),
            3 => Just(Piece::BareOfThisCommand),
            1 => Just(Piece::BareOfEarlier),
            2 => Just(Piece::BareUnknown),
            1 => Just(Piece::Reference),
            1 => (1usize..200).prop_map(Piece::Long),
            1 => Just(Piece::Quoted),
            1 => Just(Piece::Braces),
        ]
    }

    fn layout() -> impl Strategy<Value = Layout> {
        prop_oneof![
            Just(Layout::OneExport),
            Just(Layout::ExportLines),
            Just(Layout::Semicolons)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn four_times_the_text_costs_at_most_about_four_times_the_steps(
            pattern in proptest::collection::vec(piece(), 1..8),
            layout in layout(),
            n in 50usize..200,
        ) {
            let small = render(&pattern, layout, n);
            let large = render(&pattern, layout, 4 * n);
            let (s, l) = (steps(&small), steps(&large));
            prop_assert!(
                l <= 5 * s + 100,
                "{n} copies: {s} steps for {} bytes; {} copies: {l} steps for {} bytes",
                small.len(),
                4 * n,
                large.len()
            );
        }
    }

    /// The shape of the reported paste: 800 KB of `export` words, half of them bare names
    /// of keys the same command assigns.
    fn export_heavy_paste(bytes: usize) -> String {
        let mut text = String::from("export");
        let mut i = 0;
        while text.len() < bytes {
            text.push_str(&format!(" K{i}=v K{i}"));
            i += 1;
        }
        text.push('\n');
        text
    }

    #[test]
    fn an_800_kb_export_heavy_paste_takes_a_few_steps_per_byte() {
        let text = export_heavy_paste(800 * 1024);
        let started = std::time::Instant::now();
        let steps = steps(&text);
        // Printed for the record; only the step count is asserted.
        eprintln!(
            "{} bytes: {steps} steps ({:.1} a byte), {:?}",
            text.len(),
            steps as f64 / text.len() as f64,
            started.elapsed()
        );
        assert!(steps <= 4 * text.len(), "{steps} steps for {} bytes", text.len());
    }
}

/// The corpus in `tests/dotenv/`: every file is read by bash (`set -a; . ./f; env -0`,
/// with an empty environment) and by [`super::parse_pairs`], and the two must agree as
/// the file's first line says: `same`, `refused` (both refuse; ours names bash's line),
/// `crlf` (ours equals bash on the file with LF line ends), or one of the documented
/// differences `cloakroom refuses: TAG` / `cloakroom accepts: TAG`, whose tags the
/// grammar document (`docs/dotenv.md`) lists.
#[cfg(test)]
mod corpus {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    type Env = BTreeMap<Shown, Shown>;

    /// Bytes that print as text in a failure message.
    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Shown(Vec<u8>);

    impl std::fmt::Debug for Shown {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", String::from_utf8_lossy(&self.0))
        }
    }

    struct Bash {
        ok: bool,
        env: Env,
        stderr: String,
    }

    fn bash(dir: &Path, text: &[u8]) -> Bash {
        std::fs::write(dir.join("f"), text).unwrap();
        let out = Command::new("env")
            .args(["-i", "PATH=/usr/bin:/bin", "bash", "-c", "set -a; . ./f; env -0"])
            .current_dir(dir)
            .output()
            .expect("bash runs");
        let env = out
            .stdout
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(|e| {
                let i = e.iter().position(|b| *b == b'=').expect("NAME=value");
                (Shown(e[..i].to_vec()), Shown(e[i + 1..].to_vec()))
            })
            .collect();
        Bash {
            ok: out.status.success() && out.stderr.is_empty(),
            env,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// What the file added to bash's environment.
    fn assigned(env: &Env, baseline: &Env) -> Env {
        env.iter()
            .filter(|(k, v)| k.0 != b"_" && baseline.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn lines_named(messages: &[String]) -> Vec<usize> {
        messages
            .iter()
            .filter_map(|m| m.strip_prefix("line "))
            .filter_map(|m| m.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
            .collect()
    }

    /// The line of bash's first complaint, unless it is about the end of the file
    /// (bash names the last line there; we name the line where the quote opened).
    fn bash_line(stderr: &str) -> Option<usize> {
        let first = stderr.lines().next()?;
        if first.contains("unexpected EOF") || first.contains("unexpected end of file") {
            return None;
        }
        first.split("line ").nth(1)?.split(':').next()?.parse().ok()
    }

    /// The tags of documented differences; the grammar document (`docs/dotenv.md`) names each.
    const TAGS: &[&str] = &[
        "environment",
        "commands",
        "duplicate",
        "empty",
        "limits",
        "keys",
        "quoted pair",
        "byte order mark",
    ];

    #[test]
    fn every_file_reads_as_bash_reads_it_or_as_the_readme_says() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("docs/dotenv.md")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let baseline = bash(tmp.path(), b"").env;
        let mut paths: Vec<_> = std::fs::read_dir(root.join("tests/dotenv"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "env"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 40, "the corpus has {} files", paths.len());
        let mut failures = Vec::new();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for path in &paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(path).unwrap();
            let text = String::from_utf8(bytes.clone()).expect("corpus files are UTF-8");
            let expect = text
                .trim_start_matches('\u{feff}')
                .lines()
                .next()
                .and_then(|l| l.trim_end_matches('\r').strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{name}: the first line must be `# expect: …`"))
                .to_owned();
            let kind = expect.split(':').next().unwrap().to_owned();
            *counts.entry(kind.clone()).or_default() += 1;
            let ours: Result<Env, Vec<String>> = super::super::parse_pairs(&text)
                .map(|pairs| {
                    pairs
                        .into_iter()
                        .map(|p| {
                            (
                                Shown(p.key.into_string().into_bytes()),
                                Shown(p.value.into_bytes()),
                            )
                        })
                        .collect()
                })
                .map_err(|e| e.into_iter().map(|e| e.message).collect());
            let sh = bash(tmp.path(), &bytes);
            let theirs = assigned(&sh.env, &baseline);
            let mut fail = |why: String| failures.push(format!("{name} ({expect}): {why}"));
            match kind.as_str() {
                "same" => match &ours {
                    _ if !sh.ok => fail(format!("bash refused it: {}", sh.stderr)),
                    Ok(pairs) if *pairs == theirs => {}
                    Ok(pairs) => fail(format!("we read {pairs:?}, bash {theirs:?}")),
                    Err(e) => fail(format!("we refused it: {e:?}")),
                },
                "crlf" => {
                    let lf = bash(tmp.path(), text.replace("\r\n", "\n").as_bytes());
                    match &ours {
                        _ if !lf.ok => fail(format!("bash refused the LF copy: {}", lf.stderr)),
                        Ok(pairs) if *pairs != assigned(&lf.env, &baseline) => {
                            fail(format!("we read {pairs:?}, bash the LF copy as {:?}", lf.env))
                        }
                        Ok(pairs) if *pairs == theirs => {
                            fail("bash reads the CRLF file the same way; not a CRLF case".into())
                        }
                        Ok(_) => {}
                        Err(e) => fail(format!("we refused it: {e:?}")),
                    }
                }
                "refused" => match &ours {
                    _ if sh.ok => fail("bash accepted it".into()),
                    Ok(_) => fail(format!("we accepted what bash refused: {}", sh.stderr)),
                    Err(e) => {
                        let ours = lines_named(e);
                        if ours.is_empty() {
                            fail(format!("our errors name no line: {e:?}"));
                        } else if let Some(n) = bash_line(&sh.stderr) {
                            if !ours.contains(&n) {
                                fail(format!(
                                    "bash names line {n}, we name {ours:?}: {e:?} / {}",
                                    sh.stderr
                                ));
                            }
                        }
                    }
                },
                "cloakroom refuses" | "cloakroom accepts" => {
                    let tag = expect.split_once(": ").unwrap().1;
                    if !TAGS.contains(&tag) {
                        fail(format!("unknown tag {tag:?}"));
                    }
                    let refuses = kind == "cloakroom refuses";
                    if sh.ok != refuses {
                        fail(format!(
                            "bash {}: {}",
                            if sh.ok { "accepted it" } else { "refused it" },
                            sh.stderr
                        ));
                    }
                    match &ours {
                        Ok(_) if refuses => fail("we accepted it".into()),
                        Err(e) if !refuses => fail(format!("we refused it: {e:?}")),
                        Err(e) if !matches!(tag, "empty" | "limits") && lines_named(e).is_empty() => {
                            fail(format!("our errors name no line: {e:?}"))
                        }
                        _ => {}
                    }
                }
                other => fail(format!("unknown expectation {other:?}")),
            }
        }
        for tag in TAGS {
            if !readme.contains(&format!("`{tag}`")) {
                failures.push(format!("docs/dotenv.md does not explain `{tag}`"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} files disagree:\n{}",
            failures.len(),
            paths.len(),
            failures.join("\n")
        );
        eprintln!("dotenv corpus: {counts:?}");
    }

    /// Texts made of the characters that matter to a shell: whenever both we and bash
    /// accept one, we read exactly the pairs bash does (never silently different).
    fn shellish() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        // Mostly balanced tokens (so that many texts are accepted), a few raw ones.
        let piece = prop_oneof![
            4 => Just("a"),
            2 => Just("'q r'"),
            2 => Just("\"d e\""),
            2 => Just("\"$A\""),
            2 => Just("'$A'"),
            2 => Just("$A"),
            2 => Just("${B}x"),
            1 => Just(r#""\$x\"\\\`""#),
            1 => Just("\\ "),
            1 => Just(r"$'x\ty\'z'"),
            1 => Just("{x,y}"),
            1 => Just(":"),
            1 => Just("#"),
            1 => Just("="),
            1 => Just("*"),
            1 => Just("-"),
            1 => Just("\\\n"),
            1 => Just("é"),
            1 => Just(" #c"),
            1 => Just("; E=1"),
            1 => Just("\"l1\nl2\""),
            1 => Just("x~"),
            1 => Just("$"),
            1 => Just("\"$\""),
            1 => Just("'"),
            1 => Just("~"),
            1 => Just("$1"),
        ];
        let line = (
            prop_oneof![Just("A="), Just("B="), Just("export C="), Just("D=")],
            proptest::collection::vec(piece, 0..6),
        )
            .prop_map(|(start, pieces)| format!("{start}{}", pieces.concat()));
        proptest::collection::vec(line, 1..4).prop_map(|lines| lines.join("\n") + "\n")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        #[test]
        fn whatever_both_accept_reads_the_same(text in shellish()) {
            let tmp = tempfile::tempdir().unwrap();
            let baseline = bash(tmp.path(), b"").env;
            let sh = bash(tmp.path(), text.as_bytes());
            if let Ok(pairs) = super::super::parse_pairs(&text) {
                if sh.ok {
                    let ours: Env = pairs
                        .into_iter()
                        .map(|p| (Shown(p.key.into_string().into_bytes()), Shown(p.value.into_bytes())))
                        .collect();
                    proptest::prop_assert_eq!(ours, assigned(&sh.env, &baseline), "{:?}", text);
                }
            }
        }
    }
}
