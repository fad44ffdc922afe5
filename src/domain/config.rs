//! Runtime settings: built-in defaults, then `Leptos.toml` (the file a self-hoster
//! edits), then environment variables, each overriding the one before.

pub use crate::store::history::Retention;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Revisions each deployment keeps unless configured otherwise.
pub const DEFAULT_REVISIONS_KEPT: i64 = 20;

/// Set versions kept at least, whatever their age, unless configured otherwise.
pub const DEFAULT_SET_VERSIONS_KEPT: i64 = 50;
/// Days every set version is kept, unless configured otherwise.
pub const DEFAULT_SET_VERSION_DAYS: i64 = 90;
/// Days a deleted set stays recoverable, unless configured otherwise.
pub const DEFAULT_DELETED_SET_DAYS: i64 = 30;

/// History bytes each organization keeps across its set versions (64 MiB).
pub const DEFAULT_HISTORY_MAX_BYTES: i64 = 64 * 1024 * 1024;
/// New set versions each organization may make in a UTC day.
pub const DEFAULT_VERSIONS_PER_DAY: i64 = 2_000;
/// Secret writes each account may make in a minute.
pub const DEFAULT_WRITES_PER_MINUTE: i64 = 600;

/// The settings the server runs with.
#[derive(Clone)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub site_root: String,
    pub data_dir: PathBuf,
    /// `sqlite://PATH` (default: `DATA_DIR/cloakroom.db`) or `postgres://…`, whose
    /// `sslmode` and `sslrootcert` parameters set TLS (see `server::pg_tls`).
    pub database_url: String,
    /// The address users reach the dashboard at, e.g. `https://secrets.example.com`;
    /// an `https` URL makes session cookies `Secure`.
    pub public_url: Option<String>,
    /// How long a dashboard session lasts at most, in seconds.
    pub session_ttl_secs: i64,
    /// How long a dashboard session lasts without being used, in seconds.
    pub session_idle_secs: i64,
    /// Whether the last `X-Forwarded-For` address is the client's (behind one proxy).
    pub trust_proxy: bool,
    /// How many revisions (with their sealed snapshots) each deployment keeps.
    pub deployment_revisions_kept: i64,
    /// How long history is kept (see [`Retention`]).
    pub retention: Retention,
    /// Who may create organizations.
    pub org_creation: OrgCreation,
    /// Whether a new account gets a workspace of its own (`personal_workspaces`,
    /// default true). Off, or with `org_creation = "first-owner"`, an account sees
    /// only the organizations it is invited to.
    pub personal_workspaces: bool,
    /// Storage and write-rate limits (see [`Quotas`]).
    pub quotas: Quotas,
    /// Connections in the PostgreSQL pool (`CLOAKROOM_DB_POOL_SIZE`, default 16).
    pub db_pool_size: usize,
    /// The master key, base64 of 32 bytes (`CLOAKROOM_MASTER_KEY`), or a file holding
    /// it (`CLOAKROOM_MASTER_KEY_FILE`); neither means the data directory's key file.
    pub master_key: Option<String>,
    pub master_key_file: Option<String>,
}

impl std::fmt::Debug for Config {
    /// Everything but the master key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("site_addr", &self.site_addr)
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("master_key", &self.master_key.as_ref().map(|_| "(set)"))
            .field("master_key_file", &self.master_key_file)
            .finish_non_exhaustive()
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            versions_kept: DEFAULT_SET_VERSIONS_KEPT,
            version_days: DEFAULT_SET_VERSION_DAYS,
            deleted_days: DEFAULT_DELETED_SET_DAYS,
        }
    }
}

/// Hard limits on what an organization stores and an account writes, whatever the
/// retention: `history_bytes` of set versions kept per organization,
/// `versions_per_day` new set versions per organization in a UTC day, and
/// `writes_per_minute` secret writes per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub history_bytes: i64,
    pub versions_per_day: i64,
    pub writes_per_minute: i64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            history_bytes: DEFAULT_HISTORY_MAX_BYTES,
            versions_per_day: DEFAULT_VERSIONS_PER_DAY,
            writes_per_minute: DEFAULT_WRITES_PER_MINUTE,
        }
    }
}

/// The log filter (`CLOAKROOM_LOG`, `tracing` syntax; default `info`). Read on its own,
/// before the settings file, so that loading the file can already log.
pub fn log_filter() -> String {
    std::env::var("CLOAKROOM_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "info".into())
}

/// Who may create organizations (`org_creation` in Leptos.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrgCreation {
    /// Anyone signed in (the default); they become its owner.
    #[default]
    Anyone,
    /// Only the instance's first owner (the account made at setup).
    FirstOwner,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    site_addr: Option<String>,
    site_root: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    session_ttl_hours: Option<i64>,
    session_idle_minutes: Option<i64>,
    trust_proxy: Option<bool>,
    deployment_revisions_kept: Option<i64>,
    set_versions_kept: Option<i64>,
    set_version_days: Option<i64>,
    deleted_set_days: Option<i64>,
    org_creation: Option<String>,
    personal_workspaces: Option<bool>,
    history_max_bytes: Option<i64>,
    versions_per_day: Option<i64>,
    writes_per_minute: Option<i64>,
    db_pool_size: Option<usize>,
}

impl Config {
    /// Loads `path` (if it exists) and applies the process environment on top.
    pub fn load(path: &Path) -> Result<Self, String> {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str::<FileConfig>(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(e) => return Err(format!("could not read {}: {e}", path.display())),
        };
        Self::resolve(file.server, |name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })
    }

    fn resolve(file: ServerSection, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let site_addr_text = env("LEPTOS_SITE_ADDR")
            .or(file.site_addr)
            .unwrap_or_else(|| "127.0.0.1:3000".into());
        let site_addr = site_addr_text
            .parse()
            .map_err(|_| format!("site address {site_addr_text:?} is not HOST:PORT"))?;
        let site_root = env("LEPTOS_SITE_ROOT")
            .or(file.site_root)
            .unwrap_or_else(|| "target/site".into());
        let data_dir = PathBuf::from(
            env("CLOAKROOM_DATA_DIR")
                .or(file.data_dir)
                .unwrap_or_else(|| "./data".into()),
        );
        let database_url = env("DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("cloakroom.db").display()));
        let public_url = env("CLOAKROOM_PUBLIC_URL").or(file.public_url);
        let hours = match env("CLOAKROOM_SESSION_TTL_HOURS") {
            Some(h) => h
                .parse()
                .map_err(|_| format!("CLOAKROOM_SESSION_TTL_HOURS {h:?} is not a number"))?,
            None => file.session_ttl_hours.unwrap_or(12),
        };
        if hours <= 0 {
            return Err("the session lifetime must be at least one hour".into());
        }
        let idle_minutes = match env("CLOAKROOM_SESSION_IDLE_MINUTES") {
            Some(m) => m
                .parse()
                .map_err(|_| format!("CLOAKROOM_SESSION_IDLE_MINUTES {m:?} is not a number"))?,
            None => file.session_idle_minutes.unwrap_or(60),
        };
        if idle_minutes < 5 {
            return Err("the session idle timeout must be at least 5 minutes".into());
        }
        let trust_proxy = match env("CLOAKROOM_TRUST_PROXY").as_deref() {
            Some("1" | "true" | "yes") => true,
            Some("0" | "false" | "no") => false,
            Some(other) => return Err(format!("CLOAKROOM_TRUST_PROXY {other:?} must be true or false")),
            None => file.trust_proxy.unwrap_or(false),
        };
        let kept = match env("CLOAKROOM_DEPLOYMENT_REVISIONS_KEPT") {
            Some(n) => n
                .parse()
                .map_err(|_| format!("CLOAKROOM_DEPLOYMENT_REVISIONS_KEPT {n:?} is not a number"))?,
            None => file.deployment_revisions_kept.unwrap_or(DEFAULT_REVISIONS_KEPT),
        };
        if kept < 1 {
            return Err("each deployment must keep at least one revision".into());
        }
        // Bounded above too: days become seconds, which must not overflow.
        let within =
            |var: &str, file: Option<i64>, default: i64, least: i64, most: i64| -> Result<i64, String> {
                let n = match env(var) {
                    Some(n) => n.parse().map_err(|_| format!("{var} {n:?} is not a number"))?,
                    None => file.unwrap_or(default),
                };
                if !(least..=most).contains(&n) {
                    return Err(format!("{var} must be from {least} to {most}, not {n}"));
                }
                Ok(n)
            };
        let number = |var: &str, file: Option<i64>, default: i64, least: i64| {
            within(var, file, default, least, 1_000_000)
        };
        let retention = Retention {
            versions_kept: number(
                "CLOAKROOM_SET_VERSIONS_KEPT",
                file.set_versions_kept,
                DEFAULT_SET_VERSIONS_KEPT,
                1,
            )?,
            version_days: number(
                "CLOAKROOM_SET_VERSION_DAYS",
                file.set_version_days,
                DEFAULT_SET_VERSION_DAYS,
                0,
            )?,
            deleted_days: number(
                "CLOAKROOM_DELETED_SET_DAYS",
                file.deleted_set_days,
                DEFAULT_DELETED_SET_DAYS,
                0,
            )?,
        };
        let org_creation = match env("CLOAKROOM_ORG_CREATION").or(file.org_creation).as_deref() {
            None | Some("anyone") => OrgCreation::Anyone,
            Some("first-owner") => OrgCreation::FirstOwner,
            Some(other) => {
                return Err(format!(
                    "org_creation {other:?} must be \"anyone\" or \"first-owner\""
                ))
            }
        };
        let quotas = Quotas {
            // Up to 1 TiB: a byte count, summed in SQL, that must not overflow.
            history_bytes: within(
                "CLOAKROOM_HISTORY_MAX_BYTES",
                file.history_max_bytes,
                DEFAULT_HISTORY_MAX_BYTES,
                1,
                1 << 40,
            )?,
            versions_per_day: number(
                "CLOAKROOM_VERSIONS_PER_DAY",
                file.versions_per_day,
                DEFAULT_VERSIONS_PER_DAY,
                1,
            )?,
            writes_per_minute: number(
                "CLOAKROOM_WRITES_PER_MINUTE",
                file.writes_per_minute,
                DEFAULT_WRITES_PER_MINUTE,
                1,
            )?,
        };
        let personal_workspaces = match env("CLOAKROOM_PERSONAL_WORKSPACES").as_deref() {
            Some("1" | "true" | "yes") => true,
            Some("0" | "false" | "no") => false,
            Some(other) => {
                return Err(format!(
                    "CLOAKROOM_PERSONAL_WORKSPACES {other:?} must be true or false"
                ))
            }
            None => file.personal_workspaces.unwrap_or(true),
        };
        let db_pool_size = match env("CLOAKROOM_DB_POOL_SIZE") {
            Some(n) => n
                .parse()
                .map_err(|_| format!("CLOAKROOM_DB_POOL_SIZE {n:?} is not a number"))?,
            None => file.db_pool_size.unwrap_or(16),
        };
        if db_pool_size < 1 {
            return Err("the database pool needs at least one connection".into());
        }
        Ok(Self {
            site_addr,
            site_root,
            data_dir,
            database_url,
            public_url,
            session_ttl_secs: hours * 3600,
            session_idle_secs: idle_minutes * 60,
            trust_proxy,
            deployment_revisions_kept: kept,
            retention,
            org_creation,
            personal_workspaces,
            quotas,
            db_pool_size,
            master_key: env("CLOAKROOM_MASTER_KEY"),
            master_key_file: env("CLOAKROOM_MASTER_KEY_FILE"),
        })
    }

    /// Whether cookies must carry `Secure` regardless of the request.
    pub fn https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// For tests: defaults with a given data dir and a free port chosen by the caller.
    pub fn for_tests(data_dir: &Path, site_root: &str) -> Self {
        Self {
            site_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            site_root: site_root.into(),
            data_dir: data_dir.to_path_buf(),
            database_url: format!("sqlite://{}", data_dir.join("cloakroom.db").display()),
            public_url: None,
            session_ttl_secs: 3600,
            session_idle_secs: 1800,
            trust_proxy: false,
            deployment_revisions_kept: DEFAULT_REVISIONS_KEPT,
            retention: Retention::default(),
            org_creation: OrgCreation::Anyone,
            personal_workspaces: true,
            quotas: Quotas::default(),
            db_pool_size: 16,
            master_key: None,
            master_key_file: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let file: FileConfig =
            toml::from_str("[server]\nsite_addr = \"0.0.0.0:8080\"\ndata_dir = \"/srv/cloakroom\"\n")
                .unwrap();
        let c = Config::resolve(file.server, |n| {
            (n == "CLOAKROOM_DATA_DIR").then(|| "/tmp/override".to_string())
        })
        .unwrap();
        assert_eq!(c.site_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/override"));
        assert_eq!(c.database_url, "sqlite:///tmp/override/cloakroom.db");
        assert_eq!(c.site_root, "target/site");
    }

    #[test]
    fn retention_is_read_and_bounded() {
        let file: FileConfig =
            toml::from_str("[server]\nset_versions_kept = 7\ndeleted_set_days = 3\n").unwrap();
        let c = Config::resolve(file.server, |n| {
            (n == "CLOAKROOM_SET_VERSION_DAYS").then(|| "0".to_string())
        })
        .unwrap();
        assert_eq!(
            c.retention,
            Retention {
                versions_kept: 7,
                version_days: 0,
                deleted_days: 3
            }
        );
        // Days beyond any use would overflow as seconds; keeping no version is no history.
        for (var, value) in [
            ("CLOAKROOM_DELETED_SET_DAYS", "100000000000000"),
            ("CLOAKROOM_SET_VERSIONS_KEPT", "0"),
            ("CLOAKROOM_SET_VERSION_DAYS", "-1"),
        ] {
            let e = Config::resolve(ServerSection::default(), |n| {
                (n == var).then(|| value.to_string())
            })
            .err()
            .unwrap();
            assert!(e.contains(var), "{e}");
        }
    }

    #[test]
    fn quotas_default_then_file_then_environment() {
        let c = Config::resolve(ServerSection::default(), |_| None).unwrap();
        assert_eq!(c.quotas, Quotas::default());
        assert_eq!(c.quotas.history_bytes, 64 * 1024 * 1024);
        assert_eq!(c.quotas.versions_per_day, 2_000);
        assert_eq!(c.quotas.writes_per_minute, 600);
        let file: FileConfig = toml::from_str(
            "[server]\nhistory_max_bytes = 1000\nversions_per_day = 5\nwrites_per_minute = 9\n",
        )
        .unwrap();
        let c = Config::resolve(file.server, |n| match n {
            "CLOAKROOM_HISTORY_MAX_BYTES" => Some("2048".into()),
            "CLOAKROOM_WRITES_PER_MINUTE" => Some("3".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            c.quotas,
            Quotas {
                history_bytes: 2048,
                versions_per_day: 5,
                writes_per_minute: 3
            }
        );
        for var in [
            "CLOAKROOM_HISTORY_MAX_BYTES",
            "CLOAKROOM_VERSIONS_PER_DAY",
            "CLOAKROOM_WRITES_PER_MINUTE",
        ] {
            for value in ["0", "-5", "lots"] {
                let e = Config::resolve(ServerSection::default(), |n| {
                    (n == var).then(|| value.to_string())
                })
                .err()
                .unwrap();
                assert!(e.contains(var), "{e}");
            }
        }
    }

    #[test]
    fn personal_workspaces_are_on_unless_turned_off() {
        assert!(
            Config::resolve(ServerSection::default(), |_| None)
                .unwrap()
                .personal_workspaces
        );
        let file: FileConfig = toml::from_str("[server]\npersonal_workspaces = false\n").unwrap();
        assert!(
            !Config::resolve(file.server, |_| None)
                .unwrap()
                .personal_workspaces
        );
        let on = Config::resolve(ServerSection::default(), |n| {
            (n == "CLOAKROOM_PERSONAL_WORKSPACES").then(|| "false".to_string())
        })
        .unwrap();
        assert!(!on.personal_workspaces);
        assert!(Config::resolve(ServerSection::default(), |n| {
            (n == "CLOAKROOM_PERSONAL_WORKSPACES").then(|| "maybe".to_string())
        })
        .is_err());
    }

    #[test]
    fn unknown_settings_are_rejected() {
        assert!(toml::from_str::<FileConfig>("[server]\nsite_adr = \"x\"\n").is_err());
    }

    #[test]
    fn the_shipped_leptos_toml_parses() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml")).unwrap();
        toml::from_str::<FileConfig>(&text).unwrap();
    }
}
