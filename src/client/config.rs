//! The client's saved settings: server, API token and selected organization, in the
//! platform's config directory (`$XDG_CONFIG_HOME/cloakroom/cli.toml` on Linux), readable
//! by its owner only. `CLOAKROOM_SERVER`, `CLOAKROOM_TOKEN` and `CLOAKROOM_ORG` override it.

use super::{exit, Failure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `cloakroom login` and `cloakroom org NAME` remember. No `Debug`: it holds a token.
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct Saved {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// A token from the environment variable `name` (`CLOAKROOM_TOKEN`, or the variable
/// `run` reads a runtime token from), if it is set and not blank. The client reads the
/// environment here and in its flags (`clap`'s `env`), nowhere else.
pub fn env_token(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|t| !t.trim().is_empty())
}

/// Where the settings live.
pub fn path() -> Result<PathBuf, Failure> {
    dirs::config_dir()
        .map(|d| d.join("cloakroom").join("cli.toml"))
        .ok_or_else(|| Failure::usage("no config directory: set HOME or XDG_CONFIG_HOME"))
}

/// Reads the settings; a missing file means none are saved yet.
pub fn load(path: &Path) -> Result<Saved, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => return Err(Failure::usage(format!("could not read {}: {e}", path.display()))),
    };
    // Only the parser's message, never its excerpt of the file: that could show the token.
    toml::from_str(&text).map_err(|e: toml::de::Error| {
        Failure::usage(format!(
            "{} is not a valid settings file ({}); fix it or run `cloakroom login` again",
            path.display(),
            e.message()
        ))
    })
}

/// Writes the settings atomically with mode 0600 (directory 0700).
pub fn save(path: &Path, saved: &Saved) -> Result<(), Failure> {
    let fail =
        |e: std::io::Error| Failure::new(exit::USAGE, format!("could not save {}: {e}", path.display()));
    let text = toml::to_string(saved).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("toml.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    {
        use std::io::Write;
        let mut file = options.open(&tmp).map_err(fail)?;
        // The file may have existed with a wider mode; narrow it before writing the token.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_owner_only_and_reads_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("cli.toml");
        assert!(load(&path).expect("missing file is fine").token.is_none());
        let saved = Saved {
            server: Some("https://secrets.example.com".into()),
            token: Some("ckr_abc".into()),
            org: Some("acme".into()),
        };
        save(&path, &saved).expect("saves");
        let back = load(&path).expect("loads");
        assert_eq!(back.token.as_deref(), Some("ckr_abc"));
        assert_eq!(back.org.as_deref(), Some("acme"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_broken_file_is_reported_without_its_contents() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cli.toml");
        std::fs::write(&path, "token = \"ckr_secret_token_text\n").expect("writes");
        let err = load(&path).err().expect("refused");
        assert_eq!(err.code, exit::USAGE);
        assert!(!err.message.contains("ckr_secret"), "{}", err.message);
    }
}
