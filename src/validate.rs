//! The one set of input rules, shared by the server (which rejects bad input) and the
//! WASM islands (which flag it as the user types). Plain Rust with serde only, so both
//! sides compile the very same code and the same messages.
//!
//! Nothing in this module ever puts a secret value into an error message or into
//! `Debug` output: errors name keys, lines and word positions, never value text.

use serde::{Deserialize, Serialize};
use std::fmt;

mod dotenv;

/// Longest key, in characters.
pub const KEY_MAX_LEN: usize = 64;
/// Longest set / pull secret / deployment name, in characters.
pub const NAME_MAX_LEN: usize = 63;
/// Largest single value, in bytes.
pub const VALUE_MAX_BYTES: usize = 64 * 1024;
/// Largest total of all values in one set, in bytes.
pub const SET_MAX_BYTES: usize = 1024 * 1024;
/// Most keys one set (and so one write) may hold.
pub const SET_MAX_KEYS: usize = 1000;

/// Human-readable rule for keys, used in messages and next to key inputs.
pub const KEY_RULE: &str = "keys may contain only letters, digits, \"_\" and \"-\"";
/// Human-readable rule for names, used in messages and next to name inputs.
pub const NAME_RULE: &str = "names may contain only lowercase letters, digits and \"-\", \
and must start and end with a letter or digit";

/// One rejected piece of input: which field (a key, a name, a line) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// What the error is about, e.g. `key "DB URL"`, `name`, `line 3`.
    pub field: String,
    /// The full sentence shown to the user; it names the field and the rule.
    pub message: String,
}

impl FieldError {
    /// The error `message` for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Most problems one check reports; the rest are counted in one closing line. Bad
/// input of any size gets an answer of bounded size (and a flash cookie under 4 KB).
pub const MAX_REPORTED_ERRORS: usize = 20;

/// A list of problems never longer than [`MAX_REPORTED_ERRORS`] plus one closing "and N
/// more" line: the only form a validation error holds (see `AppError::Validation`). It
/// is built only by capping (its field is private, and reading one from JSON caps it
/// too), so no path, however many problems its input has, answers with more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<FieldError>", into = "Vec<FieldError>")]
pub struct ProblemList(Vec<FieldError>);

impl From<Vec<FieldError>> for ProblemList {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(cap_errors(errors))
    }
}

impl From<FieldError> for ProblemList {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

impl From<Problems> for ProblemList {
    fn from(problems: Problems) -> Self {
        Self(problems.into_vec())
    }
}

impl From<ProblemList> for Vec<FieldError> {
    fn from(list: ProblemList) -> Self {
        list.0
    }
}

impl std::ops::Deref for ProblemList {
    type Target = [FieldError];
    fn deref(&self) -> &[FieldError] {
        &self.0
    }
}

/// Collects the problems of one check, keeping the first [`MAX_REPORTED_ERRORS`] and
/// counting the rest, so that a huge bad input costs no memory per problem.
#[derive(Debug, Default)]
pub struct Problems {
    kept: Vec<FieldError>,
    more: usize,
}

impl Problems {
    pub fn push(&mut self, e: FieldError) {
        if self.kept.len() < MAX_REPORTED_ERRORS {
            self.kept.push(e);
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The kept problems, plus "… and N more problems" when some were only counted.
    pub fn into_vec(self) -> Vec<FieldError> {
        let mut out = self.kept;
        if self.more > 0 {
            out.push(more_problems(self.more));
        }
        out
    }

    /// `Ok(v)` when there were no problems.
    pub fn result<T>(self, v: T) -> Result<T, Vec<FieldError>> {
        if self.is_empty() {
            Ok(v)
        } else {
            Err(self.into_vec())
        }
    }
}

impl Extend<FieldError> for Problems {
    fn extend<I: IntoIterator<Item = FieldError>>(&mut self, iter: I) {
        for e in iter {
            self.push(e);
        }
    }
}

/// The field of the closing "and N more problems" line.
const MORE_FIELD: &str = "more";

fn more_problems(n: usize) -> FieldError {
    FieldError::new(
        MORE_FIELD,
        format!("and {n} more problem{}", if n == 1 { "" } else { "s" }),
    )
}

/// Caps any list of problems to [`MAX_REPORTED_ERRORS`] plus a count of the rest.
pub fn cap_errors(errors: Vec<FieldError>) -> Vec<FieldError> {
    let capped_already =
        errors.len() == MAX_REPORTED_ERRORS + 1 && errors.last().is_some_and(|e| e.field == MORE_FIELD);
    if errors.len() <= MAX_REPORTED_ERRORS || capped_already {
        return errors;
    }
    let mut p = Problems::default();
    p.extend(errors);
    p.into_vec()
}

/// A key that satisfies the key rule: `[a-zA-Z0-9_-]`, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SecretKey(String);

impl SecretKey {
    /// Checks `raw` against the key rule.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let field = format!("key {}", quoted(raw));
        if raw.is_empty() {
            return Err(FieldError::new("key", "a key may not be empty"));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(FieldError::new(field.clone(), format!("{field}: {KEY_RULE}")));
        }
        if raw.len() > KEY_MAX_LEN {
            return Err(FieldError::new(
                field.clone(),
                format!(
                    "{field}: keys may be at most {KEY_MAX_LEN} characters (this one has {})",
                    raw.len()
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        SecretKey::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// A name for a secret set (and, later, pull secrets and deployments): 1–63 characters,
/// lowercase letters, digits and `-`, starting and ending with a letter or digit, so it
/// is also a valid Kubernetes object name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceName(String);

impl ResourceName {
    /// Checks `raw` against the name rule. `what` says what is being named, e.g. "set name".
    pub fn parse_as(what: &str, raw: &str) -> Result<Self, FieldError> {
        let field = format!("{what} {}", quoted(raw));
        let fail = |rule: String| Err(FieldError::new("name", format!("{field}: {rule}")));
        if raw.is_empty() {
            return Err(FieldError::new(
                "name",
                format!("{what}: a name may not be empty"),
            ));
        }
        if raw.chars().count() > NAME_MAX_LEN {
            return fail(format!(
                "names may be at most {NAME_MAX_LEN} characters (this one has {})",
                raw.chars().count()
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return fail("names may contain only lowercase letters, digits and \"-\"".into());
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return fail("names must start and end with a letter or digit".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// Checks `raw` as the name of a secret set.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_as("set name", raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        ResourceName::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// The one form an email address is stored, compared and shown in: trimmed and
/// lower-cased by Unicode's rules (`ÄNN@Example.COM` and `änn@example.com` are one
/// address), the same on both databases.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an email address's shape (one `@`, a dotted domain, no spaces); returns it
/// normalized (see [`normalize_email`]).
pub fn check_email(email: &str) -> Result<String, FieldError> {
    let folded = normalize_email(email);
    let email = folded.as_str();
    let valid = email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || is_invisible_control(c))
        && email.matches('@').count() == 1
        && email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if valid {
        Ok(email.to_owned())
    } else {
        Err(FieldError::new(
            "email",
            format!("{email:?} is not an email address"),
        ))
    }
}

/// Control characters and the Unicode formatting marks that reorder or hide text (bidi
/// overrides and isolates): nothing a name or an address a person reads may hold, since
/// a terminal or a page would act on them instead of showing them.
pub fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a value's size for `key`. Values are otherwise free: any text, including
/// empty, newlines, quotes and trailing whitespace.
pub fn check_value(key: &str, value: &str) -> Result<(), FieldError> {
    if value.len() > VALUE_MAX_BYTES {
        let field = format!("key {}", quoted(key));
        return Err(FieldError::new(
            field.clone(),
            format!(
                "{field}: a value may be at most {VALUE_MAX_BYTES} bytes (this one has {})",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// A validated key with its value. `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: SecretKey,
    pub value: String,
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pair({}=***)", self.key)
    }
}

/// Validates raw key/value pairs as one write: every key, every value size, no key
/// twice, and the write's own total under the set limit. Returns the problems at once
/// (at most [`MAX_REPORTED_ERRORS`] of them, then a count of the rest).
pub fn validate_pairs<'a>(
    raw: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Pair>, Vec<FieldError>> {
    let mut problems = Problems::default();
    let pairs = validate_into(raw, &mut problems);
    if pairs.is_empty() && problems.is_empty() {
        problems.push(FieldError::new("secrets", "give at least one KEY=value pair"));
    }
    problems.result(pairs)
}

/// [`validate_pairs`] adding its problems to `problems`. Past [`SET_MAX_KEYS`] pairs
/// the write is refused anyway, so further pairs are only counted, not kept.
fn validate_into<'a>(
    raw: impl IntoIterator<Item = (&'a str, &'a str)>,
    problems: &mut Problems,
) -> Vec<Pair> {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0usize;
    let mut count = 0usize;
    for (key, value) in raw {
        match SecretKey::parse(key) {
            Ok(k) => {
                count += 1;
                if count > SET_MAX_KEYS {
                    total = total.saturating_add(value.len());
                    continue;
                }
                if !seen.insert(k.clone()) {
                    let field = format!("key {}", quoted(key));
                    problems.push(FieldError::new(
                        field.clone(),
                        format!("{field}: the same key is given more than once"),
                    ));
                    continue;
                }
                if let Err(e) = check_value(key, value) {
                    problems.push(e);
                    continue;
                }
                total += value.len();
                pairs.push(Pair {
                    key: k,
                    value: value.to_owned(),
                });
            }
            Err(e) => problems.push(e),
        }
    }
    if total > SET_MAX_BYTES {
        problems.push(FieldError::new(
            "set",
            format!("a set may hold at most {SET_MAX_BYTES} bytes of values (this write has {total})"),
        ));
    }
    if count > SET_MAX_KEYS {
        problems.push(FieldError::new(
            "set",
            format!("a set may hold at most {SET_MAX_KEYS} keys (this write has {count})"),
        ));
    }
    pairs
}

/// Parses pasted `KEY=value` text or a `.env` file into validated pairs.
///
/// The text is read the way a POSIX shell reads a file of assignments, except that
/// nothing is ever run or read from outside the text (see the `dotenv` module and the
/// README for the whole grammar): quotes, backslashes, comments, `export`, `;`, CRLF
/// line ends, and `$NAME` of a key given earlier in the text. What a shell would take
/// from elsewhere (`$HOME`, `$(…)`, `~`) is refused. Each word must be `KEY=value`,
/// split at the first `=`. The problems are reported at once (at most
/// [`MAX_REPORTED_ERRORS`], then a count of the rest), naming the line (and, for a word
/// that is not a pair, its position on the line). Work and memory grow with the text
/// only, never with the number of problems.
pub fn parse_pairs(text: &str) -> Result<Vec<Pair>, Vec<FieldError>> {
    let mut problems = Problems::default();
    let raw = dotenv::read(text, &mut problems).map_err(|e| vec![e])?;
    let pairs = validate_into(raw.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut problems);
    if pairs.is_empty() && problems.is_empty() {
        problems.push(FieldError::new("secrets", "give at least one KEY=value pair"));
    }
    problems.result(pairs)
}

/// Whether `target` can be the `Location` of one of our own redirects: a path with
/// exactly one leading `/`, made of printable ASCII without backslashes (so it is always
/// a valid header value and never leaves the origin). Percent-escapes are allowed
/// (our own URLs carry encoded query parameters); see [`is_local_path`] for the stricter
/// rule applied to targets that come from a link.
pub fn is_redirect_target(target: &str) -> bool {
    let bytes = target.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.iter().all(|b| (0x21..0x7f).contains(b) && *b != b'\\')
}

/// Whether `target` is a path on this site that is safe to send a browser to after
/// signing in: exactly one leading `/` (not followed by `/` or `\\`), printable ASCII
/// only (browsers drop tabs and line breaks, so `/\t/evil.example` would become
/// `//evil.example`), no backslash anywhere, and no percent-encoded slash, backslash or
/// control character (`/%2F/evil.example`, `/%5C…`, `%09`). Anything else is refused
/// rather than repaired.
pub fn is_local_path(target: &str) -> bool {
    if !is_redirect_target(target) {
        return false;
    }
    let bytes = target.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
            let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                return false;
            };
            let decoded = (hi * 16 + lo) as u8;
            if !(0x20..0x7f).contains(&decoded) || matches!(decoded, b'/' | b'\\' | b'%') {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Environment variables that change how a process finds or loads code: a value in a
/// set under one of these names can make a deployment run someone else's code.
const LOADER_KEYS: &[&str] = &[
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "DYLD_INSERT_LIBRARIES",
    "DYLD_LIBRARY_PATH",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5LIB",
    "PERL5OPT",
    "RUBYLIB",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "BASH_ENV",
    "ENV",
    "GCONV_PATH",
];

/// A warning for each key that changes how a process loads code (`PATH`,
/// `LD_PRELOAD`, `NODE_OPTIONS`, …), for the dashboard's and the CLI's previews. Such
/// keys are allowed (they have real uses) but never without a word.
pub fn loader_key_warnings<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    keys.into_iter()
        .filter(|k| LOADER_KEYS.iter().any(|l| l.eq_ignore_ascii_case(k)))
        .map(|k| {
            format!(
                "{k} changes how the deployed program finds or loads code; \
                 make sure you mean to set it"
            )
        })
        .collect()
}

/// What a write of `incoming` keys would do to a set that holds `existing` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritePreview {
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

/// Sorts the keys of a write into added and updated, in the write's order.
pub fn preview_write<'a>(
    incoming: impl IntoIterator<Item = &'a SecretKey>,
    existing: &[String],
) -> WritePreview {
    let mut p = WritePreview::default();
    for k in incoming {
        if existing.iter().any(|e| e == k.as_str()) {
            p.updated.push(k.to_string());
        } else {
            p.added.push(k.to_string());
        }
    }
    p
}

/// Longest container image reference accepted for a deployment.
pub const IMAGE_MAX_LEN: usize = 255;
/// Most agents a deployment may scale to.
pub const MAX_AGENTS: i64 = 1000;

/// A version or revision number from a path or form: a whole number from 1.
pub fn version_number(text: &str) -> Result<i64, FieldError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| FieldError {
            field: "version".into(),
            message: format!("a version is a whole number from 1, not {text:?}"),
        })
}

/// Checks the input of a new image pull secret, reporting every problem at once: its
/// name, its registry, and either `username` and `password` (with `encode`) or `auth`,
/// an already base64-encoded `username:password`. Answers the name and the username
/// (read from `auth` when it is given).
pub fn check_new_pull_secret(
    name: &str,
    registry: &str,
    username: &str,
    password: &str,
    auth: &str,
    encode: bool,
) -> Result<(ResourceName, String), Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let name = ResourceName::parse_as("pull secret name", name)
        .map_err(|e| errors.push(e))
        .ok();
    let _ = check_registry(registry.trim()).map_err(|e| errors.push(e));
    let username = if encode {
        let _ = check_registry_username(username).map_err(|e| errors.push(e));
        let _ = check_registry_password(password).map_err(|e| errors.push(e));
        username.to_owned()
    } else {
        check_registry_auth(auth).unwrap_or_else(|e| {
            errors.push(e);
            String::new()
        })
    };
    match name {
        Some(name) if errors.is_empty() => Ok((name, username)),
        _ => Err(errors),
    }
}

/// Longest registry host, username, or password/token accepted for a pull secret.
pub const REGISTRY_MAX_LEN: usize = 255;
pub const CREDENTIAL_MAX_LEN: usize = 4096;

/// A container registry as written in a docker config: `ghcr.io`,
/// `registry.example.com:5000`, `https://index.docker.io/v1/`. Kept exactly as given,
/// since it is the key of the `auths` map.
pub fn check_registry(raw: &str) -> Result<(), FieldError> {
    let fail = |why: &str| {
        Err(FieldError::new(
            "registry",
            format!("registry {}: {why}", quoted(raw)),
        ))
    };
    if raw.is_empty() {
        return Err(FieldError::new("registry", "the registry host may not be empty"));
    }
    if raw.len() > REGISTRY_MAX_LEN {
        return fail(&format!("at most {REGISTRY_MAX_LEN} characters"));
    }
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (hostport, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return fail("expected a host name such as ghcr.io or registry.example.com:5000");
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return fail("the port must be a number from 1 to 65535");
        }
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("the path may not contain spaces");
    }
    Ok(())
}

/// A registry username: no `:` (it separates username from password in `auth`), no
/// spaces or control characters.
pub fn check_registry_username(raw: &str) -> Result<(), FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new("username", "the username may not be empty"));
    }
    if raw.len() > REGISTRY_MAX_LEN
        || raw.contains(':')
        || raw.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FieldError::new(
            "username",
            format!(
                "username {}: at most {REGISTRY_MAX_LEN} characters, without \":\", spaces or control characters",
                quoted(raw)
            ),
        ));
    }
    Ok(())
}

/// A registry password or access token (never echoed in messages).
pub fn check_registry_password(raw: &str) -> Result<(), FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new(
            "password",
            "the password or token may not be empty",
        ));
    }
    if raw.len() > CREDENTIAL_MAX_LEN || raw.chars().any(|c| c.is_control()) {
        return Err(FieldError::new(
            "password",
            format!(
                "the password or token must be at most {CREDENTIAL_MAX_LEN} characters without line breaks"
            ),
        ));
    }
    Ok(())
}

/// Checks an already base64-encoded docker `auth` string and returns the username it
/// holds (the part before the first `:`). The password is never echoed.
pub fn check_registry_auth(b64: &str) -> Result<String, FieldError> {
    let bad = |why: &str| Err(FieldError::new("auth", format!("auth: {why}")));
    if b64.trim().is_empty() {
        return bad("paste the base64 auth value (as in ~/.docker/config.json)");
    }
    let Some(bytes) = base64_decode(b64.trim()) else {
        return bad("this is not valid base64");
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return bad("it does not decode to text");
    };
    let Some((user, pass)) = text.split_once(':') else {
        return bad("it must decode to username:password");
    };
    check_registry_username(user)?;
    if pass.is_empty() {
        return bad("the password part after \":\" is empty");
    }
    check_registry_password(pass)?;
    Ok(user.to_owned())
}

/// Standard base64 (with or without padding), as docker writes `auth`.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding, and one lone base64 digit is never valid.
    if acc != 0 || text.len() % 4 == 1 {
        return None;
    }
    Some(out)
}

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `s` in double quotes, with quotes, backslashes and invisible characters escaped, so
/// that an error message shows exactly what was given.
pub fn quoted(s: &str) -> String {
    // Keys and names are not secret; cap what we echo so a huge paste cannot flood a message.
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        if i == 80 {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if is_invisible_control(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod security_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_email_with_control_or_bidi_characters_is_refused() {
        for bad in [
            "eve\u{1b}]0;x\u{7}@example.com",
            "a\u{9b}2J@example.com",
            "moc.\u{202e}@example.com",
        ] {
            let e = check_email(bad).unwrap_err();
            assert!(!e.message.chars().any(is_invisible_control), "{:?}", e.message);
        }
        assert_eq!(check_email("Ann@Example.com").unwrap(), "ann@example.com");
        assert_eq!(quoted("a\u{1b}[2J"), "\"a\\u{1b}[2J\"");
    }

    #[test]
    fn a_paste_of_many_bad_words_reports_twenty_and_counts_the_rest() {
        let errors = parse_pairs(&"a ".repeat(10_000)).unwrap_err();
        assert_eq!(errors.len(), MAX_REPORTED_ERRORS + 1);
        assert_eq!(errors.last().unwrap().message, "and 9980 more problems");
        // Capping a capped list changes nothing.
        assert_eq!(cap_errors(errors.clone()), errors);
        let raw: Vec<FieldError> = (0..50).map(|i| FieldError::new(format!("k{i}"), "bad")).collect();
        let capped = cap_errors(raw);
        assert_eq!(capped.len(), 21);
        assert_eq!(capped[20].message, "and 30 more problems");
    }

    #[test]
    fn more_keys_than_a_set_holds_are_counted_not_kept() {
        let text: String = (0..5000).map(|i| format!("K{i}=v\n")).collect();
        let errors = parse_pairs(&text).unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            ["a set may hold at most 1000 keys (this write has 5000)"]
        );
    }

    #[test]
    fn local_paths_are_followed_and_everything_else_is_not() {
        for ok in [
            "/",
            "/secrets",
            "/orgs/acme/secrets/prod",
            "/orgs/a-b/audit?object=set%3Ax",
            "/a%20b",
        ] {
            assert!(is_local_path(ok), "{ok:?}");
        }
        for bad in [
            "",
            "secrets",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/%09/evil.example",
            "/%0a/x",
            "/%2F/evil.example",
            "/%2f/evil.example",
            "/%5C/evil.example",
            "/%5cevil.example",
            "/%252F/x",
            "https://evil.example/",
            "javascript:alert(1)",
            "/x\u{7f}",
            "/é",
            "/% ",
            "/%zz",
            " /secrets",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }

    /// What a browser does with a redirect target before resolving it: drops tabs and
    /// line breaks, and treats `\\` like `/`.
    fn as_browser_reads(target: &str) -> String {
        target
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .map(|c| if c == '\\' { '/' } else { c })
            .collect()
    }

    /// Percent-decodes once, as a server or a browser might.
    fn decoded(target: &str) -> String {
        let bytes = target.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(&target[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    proptest! {
        /// Whatever is accepted stays on this origin however a browser reads it, with or
        /// without one round of percent-decoding.
        #[test]
        fn an_accepted_next_never_leaves_the_origin(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("/".to_owned()), Just("\\".to_owned()), Just("\t".to_owned()),
                    Just("\n".to_owned()), Just("\r".to_owned()), Just("%09".to_owned()),
                    Just("%0A".to_owned()), Just("%2F".to_owned()), Just("%2f".to_owned()),
                    Just("%5C".to_owned()), Just("%5c".to_owned()), Just("%25".to_owned()),
                    Just("evil.example".to_owned()), Just(":".to_owned()), Just("@".to_owned()),
                    Just("https".to_owned()), Just("secrets".to_owned()), "[ -~]{0,3}",
                ],
                0..8,
            )
        ) {
            let next: String = parts.concat();
            if is_local_path(&next) {
                for seen in [as_browser_reads(&next), as_browser_reads(&decoded(&next))] {
                    prop_assert!(seen.starts_with('/'), "{next:?} read as {seen:?}");
                    prop_assert!(!seen.starts_with("//"), "{next:?} read as {seen:?}");
                }
                prop_assert!(next.bytes().all(|b| (0x21..0x7f).contains(&b)));
            }
        }

        /// A pasted text of any size gets at most the capped number of problems.
        #[test]
        fn problems_are_capped_for_any_input(text in "[a-z =\"'\\\n#]{0,400}") {
            if let Err(errors) = parse_pairs(&text) {
                prop_assert!(errors.len() <= MAX_REPORTED_ERRORS + 1);
            }
        }
    }

    #[test]
    fn keys_that_change_how_code_loads_are_warned_about() {
        let warnings = loader_key_warnings(["PATH", "DATABASE_URL", "LD_PRELOAD", "node_options"]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("PATH changes how"));
        assert!(loader_key_warnings(["API_KEY", "PATHS"]).is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(String, String)> {
        parse_pairs(text)
            .unwrap_or_else(|e| panic!("{text:?} should parse, got {e:?}"))
            .into_iter()
            .map(|p| (p.key.into_string(), p.value))
            .collect()
    }

    fn one(text: &str) -> (String, String) {
        let mut v = parsed(text);
        assert_eq!(v.len(), 1, "{text:?}");
        v.remove(0)
    }

    fn errors(text: &str) -> Vec<String> {
        parse_pairs(text)
            .expect_err("should fail")
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn the_seven_forms_from_the_issue_all_parse() {
        let cases = [
            ("SIMPLE=value", "SIMPLE", "value"),
            ("KEY=\"value with spaces\"", "KEY", "value with spaces"),
            ("\"KEY=value with spaces\"", "KEY", "value with spaces"),
            ("EQ=value=with=equals", "EQ", "value=with=equals"),
            (
                "'QUOTED=value \"quoted\" here'",
                "QUOTED",
                "value \"quoted\" here",
            ),
            (
                "ESCAPED=\"value \\\"quoted\\\" here\"",
                "ESCAPED",
                "value \"quoted\" here",
            ),
            ("WIN='C:\\path\\to\\dir'", "WIN", "C:\\path\\to\\dir"),
        ];
        for (text, k, v) in cases {
            assert_eq!(one(text), (k.to_string(), v.to_string()), "{text}");
        }
        // Pasted together (the issue's block names KEY twice; one is renamed here,
        // since a key given twice in one write is rejected).
        let all = cases.map(|c| c.0).join("\n").replacen("\"KEY=", "\"KEY2=", 1);
        assert_eq!(parsed(&all).len(), 7);
    }

    #[test]
    fn what_a_shell_would_take_from_elsewhere_is_refused_with_its_line() {
        for (text, line, says) in [
            ("A=$HOME", 1, "`$HOME` is not set earlier in this text"),
            ("A=1\nB=\"${X}\"", 2, "`${X}` is not set earlier"),
            ("A=`id`", 1, "backquotes run a command"),
            ("A=$(id)", 1, "`$(…)` runs a command"),
            ("A=~/x", 1, "unquoted `~`"),
            ("A=1\nB=x:~", 2, "unquoted `~`"),
            ("A=$1", 1, "special parameters"),
            ("A=$$", 1, "special parameters"),
            ("A=${X:-y}", 1, "only ${NAME}"),
            ("export A={x,y}", 1, "brace"),
            ("A=x|y", 1, "`|` outside quotes"),
            ("A=1\nA+=2", 2, "appends"),
        ] {
            let e = errors(text);
            assert!(
                e[0].starts_with(&format!("line {line}")) && e[0].contains(says),
                "{text:?}: {e:?}"
            );
        }
        // Escaped or single-quoted, the same text is kept as written.
        assert_eq!(one(r"A=\$HOME"), ("A".into(), "$HOME".into()));
        assert_eq!(one("A='$(id) `id` ~'"), ("A".into(), "$(id) `id` ~".into()));
        assert_eq!(one(r#"A="\${X}""#), ("A".into(), "${X}".into()));
        assert_eq!(one("A=*?[x]{a,b}"), ("A".into(), "*?[x]{a,b}".into()));
    }

    #[test]
    fn what_bash_reads_differently_from_the_text_is_refused() {
        for (text, says) in [
            // export expands every word before assigning any.
            ("export A=1 B=$A", "`$A` is not set earlier"),
            // A quoted export is an ordinary command, which splits values at spaces.
            ("A=\"x y\"\n\"export\" B=$A", "quoted or escaped `export`"),
            // bash exports its own value for a name the text never set.
            ("export HOSTNAME", "not set earlier in this text"),
            ("SHLVL=9", "SHLVL is a variable bash sets itself"),
            ("A=\"x\0y\"", "NUL"),
        ] {
            let e = errors(text);
            assert!(e.iter().any(|m| m.contains(says)), "{text:?}: {e:?}");
        }
        assert_eq!(
            parsed("A=1\nexport A")[0].1,
            "1",
            "a bare export of a name set earlier changes nothing"
        );
        assert_eq!(one("A=$'\\x{41}'").1, "A");
    }

    #[test]
    fn text_before_equals_that_may_be_a_value_is_not_repeated() {
        for text in [
            "SECRET=abc def/ghi+jk==",
            "postgres://u:pw-7Hq2@h/db?sslmode=require",
            "A=1 xyz0123+=",
        ] {
            let e = errors(text).join(" ");
            for part in ["def/ghi", "pw-7Hq2", "xyz0123"] {
                assert!(!e.contains(part), "{text:?} -> {e}");
            }
        }
        assert!(
            errors("\"DB URL=x\"")[0].contains("key \"DB URL\""),
            "a key-shaped mistake is named"
        );
    }

    #[test]
    fn keys_given_earlier_in_the_text_are_replaced_like_a_shell_does() {
        assert_eq!(
            parsed("U=app\nP='p w'\nURL=\"db://$U:${P}@h\" X=$U-$U"),
            vec![
                ("U".into(), "app".into()),
                ("P".into(), "p w".into()),
                ("URL".into(), "db://app:p w@h".into()),
                ("X".into(), "app-app".into()),
            ]
        );
        // A `$` a shell keeps stays.
        assert_eq!(
            parsed("A=a$ B=$/x"),
            vec![("A".into(), "a$".into()), ("B".into(), "$/x".into())]
        );
    }

    #[test]
    fn replacements_cannot_grow_a_short_text_past_the_limits() {
        let text = format!("A={}\nB=$A$A", "x".repeat(VALUE_MAX_BYTES / 2 + 1));
        assert!(errors(&text)[0].starts_with("line 2: replacing `$A` makes the value longer"));
        let many = format!(
            "A={}\n{}",
            "x".repeat(60_000),
            (0..40).map(|i| format!("B{i}=$A")).collect::<Vec<_>>().join("\n")
        );
        assert!(errors(&many).iter().any(|e| e.contains("all values longer than")));
    }

    #[test]
    fn export_semicolons_and_ansi_c_quotes_read_as_in_a_shell() {
        assert_eq!(
            parsed("export A=1; B=2;C=$'x\\ty\\n' # c\nexport A"),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "2".into()),
                ("C".into(), "x\ty\n".into()),
            ]
        );
        assert!(errors("export")[0].starts_with("line 1: `export` needs"));
        assert!(errors("A=1\n;")[0].starts_with("line 2: a `;`"));
        assert!(errors("export -n A=1")[0].contains("options of `export`"));
    }

    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_are_not_part_of_any_value() {
        assert_eq!(
            parsed("\u{feff}A=1\r\nB=\"x\r\ny\"\r\n"),
            vec![("A".into(), "1".into()), ("B".into(), "x\ny".into())]
        );
    }

    #[test]
    fn double_quotes_honour_posix_escapes_and_keep_other_backslashes() {
        assert_eq!(one(r#"A="a\$b\`c\\d\e""#), ("A".into(), r"a$b`c\d\e".into()));
    }

    #[test]
    fn a_backslash_outside_quotes_escapes_the_next_character() {
        assert_eq!(one(r"A=a\ b\'c"), ("A".into(), "a b'c".into()));
    }

    #[test]
    fn quoted_text_may_span_lines() {
        assert_eq!(
            one("CERT=\"line one\nline two\n\""),
            ("CERT".into(), "line one\nline two\n".into())
        );
        assert_eq!(one("A='x\n  y'"), ("A".into(), "x\n  y".into()));
    }

    #[test]
    fn comments_start_only_at_the_beginning_of_a_word() {
        let v = parsed("# a comment\nA=1 # trailing\nB=x#y\n  #C=3\n");
        assert_eq!(v, vec![("A".into(), "1".into()), ("B".into(), "x#y".into())]);
    }

    #[test]
    fn empty_values_and_trailing_whitespace_survive() {
        assert_eq!(one("EMPTY="), ("EMPTY".into(), "".into()));
        assert_eq!(one("EMPTY=''"), ("EMPTY".into(), "".into()));
        assert_eq!(
            one("T=\"ends with spaces  \""),
            ("T".into(), "ends with spaces  ".into())
        );
    }

    #[test]
    fn unicode_is_kept() {
        assert_eq!(
            one("U=\"héllo wörld ✓ 🚀\""),
            ("U".into(), "héllo wörld ✓ 🚀".into())
        );
    }

    #[test]
    fn windows_line_endings_separate_words() {
        assert_eq!(parsed("A=1\r\nB=2\r\n").len(), 2);
    }

    #[test]
    fn a_word_without_equals_names_its_line_and_position_but_not_its_text() {
        let e = errors("A=1\nKEY=value with spaces");
        assert_eq!(e.len(), 2);
        assert!(e[0].starts_with("line 2, word 2: expected KEY=value"), "{e:?}");
        assert!(e[1].starts_with("line 2, word 3:"), "{e:?}");
        assert!(!e.join(" ").contains("spaces\""), "{e:?}");
    }

    #[test]
    fn an_unterminated_quote_names_where_it_opened() {
        assert_eq!(
            errors("A=1\nB=\"open\nC=2"),
            vec!["line 2, word 1: the double quote opened here is never closed".to_string()]
        );
        assert_eq!(
            errors("A='x"),
            vec!["line 1, word 1: the single quote opened here is never closed".to_string()]
        );
    }

    #[test]
    fn a_bad_key_is_named_with_its_line_and_the_rule() {
        assert_eq!(
            errors("\"DB URL=postgres://x\""),
            vec![format!("line 1: key \"DB URL\": {KEY_RULE}")]
        );
    }

    #[test]
    fn every_invalid_pair_is_listed() {
        let e = errors("GOOD=1\nBAD.KEY=2\nALSO BAD\n=3");
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn the_same_key_twice_is_rejected() {
        let e = errors("A=1\nA=2");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("line 2: key \"A\" is given again (first on line 1)"),
            "{e:?}"
        );
    }

    #[test]
    fn empty_text_asks_for_a_pair() {
        assert_eq!(
            errors("  \n# only a comment\n"),
            vec!["give at least one KEY=value pair"]
        );
    }

    #[test]
    fn a_key_longer_than_64_characters_is_rejected() {
        assert!(SecretKey::parse(&"A".repeat(64)).is_ok());
        let e = SecretKey::parse(&"A".repeat(65)).unwrap_err();
        assert!(
            e.message.contains("at most 64 characters (this one has 65)"),
            "{e}"
        );
    }

    #[test]
    fn key_error_names_the_key_and_the_rule() {
        let e = SecretKey::parse("DB URL").unwrap_err();
        assert_eq!(
            e.message,
            "key \"DB URL\": keys may contain only letters, digits, \"_\" and \"-\""
        );
        assert_eq!(
            SecretKey::parse("").unwrap_err().message,
            "a key may not be empty"
        );
        for ok in ["a", "Z_9", "with-dash", "_lead", "0"] {
            assert!(SecretKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["a.b", "é", "a=b", "a b", "a/b", "a\n"] {
            assert!(SecretKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_follow_the_kubernetes_rule() {
        for ok in ["a", "prod", "my-set-2", "0", &"a".repeat(63)] {
            assert!(ResourceName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Prod", "a_b", "a.b", "ä", &"a".repeat(64)] {
            assert!(ResourceName::parse(bad).is_err(), "{bad:?}");
        }
        let e = ResourceName::parse("My Set").unwrap_err();
        assert_eq!(
            e.message,
            "set name \"My Set\": names may contain only lowercase letters, digits and \"-\""
        );
    }

    #[test]
    fn a_value_over_64_kib_is_rejected_and_one_at_the_limit_is_not() {
        assert!(check_value("K", &"x".repeat(VALUE_MAX_BYTES)).is_ok());
        let e = check_value("K", &"x".repeat(VALUE_MAX_BYTES + 1)).unwrap_err();
        assert!(e
            .message
            .starts_with("key \"K\": a value may be at most 65536 bytes"));
    }

    #[test]
    fn a_write_over_one_mib_is_rejected() {
        let big = "x".repeat(VALUE_MAX_BYTES);
        let keys: Vec<String> = (0..17).map(|i| format!("K{i}")).collect();
        let e = validate_pairs(keys.iter().map(|k| (k.as_str(), big.as_str()))).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].message.starts_with("a set may hold at most 1048576 bytes"));
    }

    #[test]
    fn debug_output_never_shows_values() {
        let p = parse_pairs("A=topsecret").unwrap();
        assert!(!format!("{p:?}").contains("topsecret"));
    }

    #[test]
    fn preview_sorts_keys_into_added_and_updated() {
        let pairs = parse_pairs("A=1 B=2 C=3").unwrap();
        let p = preview_write(pairs.iter().map(|p| &p.key), &["B".to_string()]);
        assert_eq!(p.added, vec!["A", "C"]);
        assert_eq!(p.updated, vec!["B"]);
    }

    #[test]
    fn registries_are_host_names_with_optional_scheme_port_and_path() {
        for ok in [
            "ghcr.io",
            "registry.example.com:5000",
            "https://index.docker.io/v1/",
            "localhost",
            "10.0.0.1:5000",
        ] {
            assert!(check_registry(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "has space.io",
            "ghcr.io:0",
            "ghcr.io:99999",
            "-bad.io",
            "a..b",
            "https://",
        ] {
            assert!(check_registry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn registry_usernames_and_passwords_follow_docker_rules() {
        assert!(check_registry_username("robot$ci").is_ok());
        assert!(check_registry_username("a:b").is_err());
        assert!(check_registry_password("p:a\"ss w").is_ok());
        let e = check_registry_password("hunter2\nx").unwrap_err();
        assert!(!e.message.contains("hunter2"), "the password is not echoed: {e}");
    }

    #[test]
    fn base64_round_trips_and_rejects_junk() {
        for raw in ["", "a", "ab", "abc", "user:pa:ss", "ünï ✓"] {
            let enc = base64_encode(raw.as_bytes());
            assert_eq!(base64_decode(&enc).unwrap(), raw.as_bytes(), "{raw}");
        }
        assert_eq!(base64_encode(b"u:p"), "dTpw");
        assert_eq!(base64_decode("dTpw"), Some(b"u:p".to_vec()));
        assert_eq!(base64_decode("not base64!"), None);
        assert_eq!(base64_decode("dTo"), Some(b"u:".to_vec()));
        assert_eq!(base64_decode("dTp"), None, "non-zero leftover bits");
    }

    #[test]
    fn an_auth_string_must_decode_to_user_colon_password() {
        assert_eq!(check_registry_auth("dTpw").unwrap(), "u");
        assert_eq!(check_registry_auth(&base64_encode(b"bot:tok:en")).unwrap(), "bot");
        for bad in [
            "",
            "@@@",
            &base64_encode(b"nocolon"),
            &base64_encode(b"user:"),
            &base64_encode(b":pw"),
        ] {
            assert!(check_registry_auth(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn base64_matches_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            proptest::prop_assert_eq!(base64_decode(&base64_encode(&bytes)), Some(bytes));
        }
    }

    /// Quotes a value the way a user would for a shell: single quotes, with `'` written
    /// as `'\''`.
    fn shell_quote(v: &str) -> String {
        format!("'{}'", v.replace('\'', "'\\''"))
    }

    fn double_quote(v: &str) -> String {
        let mut s = String::from("\"");
        for c in v.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }

    proptest::proptest! {
        #[test]
        fn any_value_round_trips_through_single_quotes(
            key in "[A-Za-z_][A-Za-z0-9_-]{0,63}",
            value in "\\PC*|[ \n\t\"'\\\\$`=#]*",
        ) {
            proptest::prop_assume!(!dotenv::SHELL_OWNED.contains(&key.as_str()));
            let text = format!("{key}={}", shell_quote(&value));
            let p = parse_pairs(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
            proptest::prop_assert_eq!(p.len(), 1);
            proptest::prop_assert_eq!(p[0].key.as_str(), key.as_str());
            proptest::prop_assert_eq!(&p[0].value, &value);
        }

        #[test]
        fn any_value_round_trips_through_double_quotes(
            key in "[A-Za-z0-9_-]{1,64}",
            value in "\\PC*|[ \n\t\"'\\\\$`=#]*",
        ) {
            proptest::prop_assume!(!dotenv::SHELL_OWNED.contains(&key.as_str()));
            let text = format!("# set\n{key}={}\n", double_quote(&value));
            let p = parse_pairs(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
            proptest::prop_assert_eq!(&p[0].value, &value);
        }

        #[test]
        fn many_pairs_round_trip_in_order(
            values in proptest::collection::vec("\\PC{0,20}", 1..20),
        ) {
            let text: Vec<String> = values.iter().enumerate()
                .map(|(i, v)| format!("K{i}={}", shell_quote(v))).collect();
            let p = parse_pairs(&text.join(" \n")).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
            let got: Vec<&String> = p.iter().map(|p| &p.value).collect();
            let want: Vec<&String> = values.iter().collect();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn parsing_never_panics(text in "\\PC*|[\"'\\\\=# \nA-Z]*") {
            let _ = parse_pairs(&text);
        }
    }
}
