//! TLS to PostgreSQL, with rustls (and ring, the crypto provider reqwest already uses).
//!
//! `DATABASE_URL` takes libpq's `sslmode` and `sslrootcert` parameters. tokio-postgres
//! understands neither `verify-ca`/`verify-full` nor a CA file, so both are taken out of
//! the URL here and the rest of it is left to tokio-postgres:
//!
//! | `sslmode` | TLS | certificate check |
//! |---|---|---|
//! | `disable` | never | – |
//! | `prefer` (default) | if the server offers it, else plain | none, or the chain if `sslrootcert` is given |
//! | `require` | always | none, or the chain if `sslrootcert` is given |
//! | `verify-ca` | always | the chain, against `sslrootcert` (required) |
//! | `verify-full` | always | the chain and the host name, against `sslrootcert`, or the system's CAs when it is absent or `system` |
//!
//! As with libpq, `require` without a CA encrypts but cannot tell the server from a
//! machine in the middle; the handshake signatures are still checked. Any mode but
//! `verify-ca`/`verify-full` to a server that is not on this machine (loopback or a
//! Unix socket) is logged as a warning at start-up, naming the setting to change.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "DATABASE_URL: sslmode must be disable, prefer, require, verify-ca or \
                     verify-full, not {other:?}"
                ))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Which CAs a server certificate must chain to, if it is checked at all.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// No check (`prefer` and `require` without `sslrootcert`).
    Unchecked,
    /// The PEM certificates in this file (`sslrootcert=PATH`).
    File(PathBuf),
    /// The system's trusted CAs (`verify-full` without `sslrootcert`, or `sslrootcert=system`).
    System,
}

/// The TLS settings taken from a `DATABASE_URL`.
#[derive(Debug)]
pub(super) struct PgTls {
    mode: Mode,
    roots: Roots,
}

impl PgTls {
    /// Splits `url` into the TLS settings and the URL without `sslmode` and `sslrootcert`,
    /// for tokio-postgres to parse.
    pub(super) fn from_url(url: &str) -> Result<(Self, String), String> {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let mut mode = Mode::Prefer;
        let mut root_cert = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = || {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .map_err(|_| format!("DATABASE_URL: the value of {key} is not UTF-8"))
            };
            match key {
                "sslmode" => mode = Mode::parse(&decoded()?)?,
                "sslrootcert" => root_cert = Some(decoded()?),
                _ => rest.push(pair),
            }
        }
        let roots = match (mode, root_cert.as_deref()) {
            (Mode::Disable, _) => Roots::Unchecked,
            (Mode::VerifyFull, None | Some("system")) => Roots::System,
            (_, Some("system")) => {
                return Err(
                    "DATABASE_URL: sslrootcert=system needs sslmode=verify-full (any public \
                     CA's certificate would pass without the host name check)"
                        .into(),
                )
            }
            (Mode::VerifyCa, None) => {
                return Err(
                    "DATABASE_URL: sslmode=verify-ca needs sslrootcert=PATH, the PEM file \
                     of the CA that signed the server's certificate"
                        .into(),
                )
            }
            (_, Some(path)) => Roots::File(PathBuf::from(path)),
            (Mode::Prefer | Mode::Require, None) => Roots::Unchecked,
        };
        let rest_url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let tls = Self { mode, roots };
        if let Some(warning) = tls.unverified_warning(&rest_url) {
            tracing::warn!("{warning}");
        }
        Ok((tls, rest_url))
    }

    /// The start-up warning for a connection whose server is not verified (any
    /// `sslmode` but `verify-ca`/`verify-full`) and may be on another machine (a host
    /// that is not loopback or a Unix socket). Names the host, never the whole URL
    /// (it may hold a password). `None` for a URL tokio-postgres cannot parse: its
    /// error is reported when connecting.
    fn unverified_warning(&self, url: &str) -> Option<String> {
        if matches!(self.mode, Mode::VerifyCa | Mode::VerifyFull) {
            return None;
        }
        let config: tokio_postgres::Config = url.parse().ok()?;
        let remote = remote_hosts(&config);
        if remote.is_empty() {
            return None;
        }
        let risk = match self.mode {
            Mode::Disable => "sends everything unencrypted",
            Mode::Prefer => "falls back to an unencrypted connection and checks no server name",
            _ => "does not check that the certificate is the server's",
        };
        let default = if self.mode == Mode::Prefer {
            " (the default)"
        } else {
            ""
        };
        Some(format!(
            "DATABASE_URL: sslmode={}{default} to PostgreSQL at {} {risk}, so a machine in \
             the middle could read and change what Cloakroom stores; add \
             sslmode=verify-full to DATABASE_URL (with sslrootcert=PATH for a private CA)",
            self.mode.name(),
            remote.join(", "),
        ))
    }

    /// The mode for tokio-postgres, which knows no `verify-*`: those are `require` plus
    /// the certificate verifier from `connector`.
    pub(super) fn ssl_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }

    /// The rustls connector: reads the CA file now, so a missing or unreadable one stops
    /// the start-up with its own message.
    pub(super) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match &self.roots {
            Roots::Unchecked => Arc::new(EncryptOnly(provider.clone())),
            Roots::File(_) | Roots::System => {
                let roots = Arc::new(self.root_store()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("could not set up TLS for PostgreSQL: {e}"))?;
                if self.mode == Mode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("could not set up TLS for PostgreSQL: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore, String> {
        let mut store = RootCertStore::empty();
        match &self.roots {
            Roots::Unchecked => {}
            Roots::File(path) => {
                let shown = path.display();
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        format!("could not read the PostgreSQL CA file {shown} (sslrootcert): {e}")
                    })?;
                if certs.is_empty() {
                    return Err(format!(
                        "the PostgreSQL CA file {shown} (sslrootcert) holds no PEM certificate"
                    ));
                }
                for cert in certs {
                    store
                        .add(cert)
                        .map_err(|e| format!("the PostgreSQL CA file {shown} (sslrootcert): {e}"))?;
                }
            }
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(format!(
                        "sslmode=verify-full: this system has no CA certificates to check the \
                         PostgreSQL server's certificate against; name its CA with \
                         sslrootcert=PATH ({} error(s) loading the system's CAs)",
                        found.errors.len()
                    ));
                }
            }
        }
        Ok(store)
    }

    /// What the operator reads when the first connection fails: certificate problems in
    /// words, everything else as tokio-postgres says it.
    pub(super) fn connect_error(&self, error: &deadpool_postgres::PoolError) -> String {
        let Some(tls) = rustls_error(error) else {
            let cause = match error {
                deadpool_postgres::PoolError::Backend(e) => e.to_string(),
                other => other.to_string(),
            };
            return format!("could not connect to PostgreSQL: {cause}");
        };
        let mode = self.mode.name();
        let problem = match tls {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => match &self.roots {
                Roots::File(path) => format!(
                    "the server's certificate is not signed by the CA in {}",
                    path.display()
                ),
                _ => "the server's certificate is not signed by a CA this system trusts (name \
                      the server's CA with sslrootcert=PATH)"
                    .into(),
            },
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected,
                presented,
            }) => format!(
                "the server's certificate is not valid for the host name {} (it names {})",
                expected.to_str(),
                presented
                    .iter()
                    .map(|n| plain_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
                "the server's certificate is not valid for the host name in DATABASE_URL".into()
            }
            rustls::Error::InvalidCertificate(e) => format!("the server's certificate was rejected: {e}"),
            other => format!("the TLS handshake failed: {other}"),
        };
        format!("could not connect to PostgreSQL over TLS: {problem} (sslmode={mode})")
    }
}

/// The hosts of `config` that a connection reaches over the network: each host's
/// `hostaddr` when given (the address actually connected to), else the host itself,
/// unless it is a Unix socket, `localhost` or a loopback address.
fn remote_hosts(config: &tokio_postgres::Config) -> Vec<String> {
    use tokio_postgres::config::Host;
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    (0..hosts.len().max(addrs.len()))
        .filter_map(|i| {
            if let Some(addr) = addrs.get(i) {
                return (!addr.is_loopback()).then(|| addr.to_string());
            }
            match hosts.get(i)? {
                Host::Tcp(name) => {
                    let bare = name.trim_start_matches('[').trim_end_matches(']');
                    let local = bare.eq_ignore_ascii_case("localhost")
                        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
                    (!local).then(|| name.clone())
                }
                #[cfg(unix)]
                Host::Unix(_) => None,
            }
        })
        .collect()
}

/// A name from a certificate as webpki reports it (`DnsName("db")`, `IpAddress(10.0.0.1)`),
/// without the wrapping.
fn plain_name(reported: &str) -> &str {
    reported
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            reported
                .strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(reported)
}

/// The rustls error somewhere in `error`'s chain of causes (tokio-rustls wraps it in an
/// `io::Error`, whose `source` skips it).
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        let inner = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        if let Some(found) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// `prefer`/`require` without a CA: any certificate, but the handshake must be signed
/// by its key, so the session is at least encrypted to whoever holds it.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (and `prefer`/`require` with a CA): the full webpki check except the host
/// name. webpki checks the chain (signatures, validity dates, usage) before the name, so
/// a name mismatch is only reported for a certificate whose chain has passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> Result<(Mode, Roots, String), String> {
        PgTls::from_url(url).map(|(tls, rest)| (tls.mode, tls.roots, rest))
    }

    #[test]
    fn without_sslmode_the_default_is_prefer_and_the_url_is_unchanged() {
        let url = "postgres://u@db/app?connect_timeout=5";
        assert_eq!(split(url), Ok((Mode::Prefer, Roots::Unchecked, url.into())));
        assert_eq!(
            split("postgres://u@db/app"),
            Ok((Mode::Prefer, Roots::Unchecked, "postgres://u@db/app".into()))
        );
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_and_the_rest_kept() {
        assert_eq!(
            split("postgres://u@db/app?sslmode=verify-full&connect_timeout=5&sslrootcert=%2Fetc%2Fca.pem"),
            Ok((
                Mode::VerifyFull,
                Roots::File("/etc/ca.pem".into()),
                "postgres://u@db/app?connect_timeout=5".into()
            ))
        );
    }

    #[test]
    fn verify_full_without_a_ca_file_uses_the_system_cas() {
        assert_eq!(
            split("postgres://db/app?sslmode=verify-full").map(|s| s.1),
            Ok(Roots::System)
        );
        assert_eq!(
            split("postgres://db/app?sslmode=verify-full&sslrootcert=system").map(|s| s.1),
            Ok(Roots::System)
        );
    }

    #[test]
    fn require_checks_the_chain_only_when_a_ca_file_is_given() {
        assert_eq!(
            split("postgres://db/app?sslmode=require").map(|s| s.1),
            Ok(Roots::Unchecked)
        );
        assert_eq!(
            split("postgres://db/app?sslmode=require&sslrootcert=/ca.pem").map(|s| s.1),
            Ok(Roots::File("/ca.pem".into()))
        );
    }

    #[test]
    fn unknown_modes_and_weak_uses_of_the_system_cas_are_refused() {
        assert!(split("postgres://db/app?sslmode=allow").is_err());
        assert!(split("postgres://db/app?sslmode=verify-ca").is_err());
        assert!(split("postgres://db/app?sslmode=require&sslrootcert=system").is_err());
    }

    fn warning(url: &str) -> Option<String> {
        let (tls, rest) = PgTls::from_url(url).expect("valid URL");
        tls.unverified_warning(&rest)
    }

    #[test]
    fn an_unverified_connection_to_another_machine_is_warned_about() {
        let w = warning("postgres://cloakroom:hunter2@db.internal/app").expect("a warning");
        assert!(w.contains("sslmode=prefer (the default)"), "{w}");
        assert!(w.contains("db.internal"), "{w}");
        assert!(w.contains("sslmode=verify-full"), "{w}");
        assert!(!w.contains("hunter2"), "the password stays out of the log: {w}");
        for url in [
            "postgres://db.internal/app?sslmode=disable",
            "postgres://db.internal/app?sslmode=require",
            "postgres://db.internal/app?sslmode=require&sslrootcert=/ca.pem",
            "postgres://10.0.0.5:5433/app",
            "postgres://localhost/app?hostaddr=10.0.0.5",
            "host=127.0.0.1,db.internal dbname=app",
        ] {
            assert!(warning(url).is_some(), "{url}");
        }
    }

    #[test]
    fn verified_or_local_connections_are_not_warned_about() {
        for url in [
            "postgres://db.internal/app?sslmode=verify-full",
            "postgres://db.internal/app?sslmode=verify-ca&sslrootcert=/ca.pem",
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgres://localhost/app?sslmode=disable",
            "postgres://[::1]:5432/app",
            "postgres://db.internal/app?hostaddr=127.0.0.1",
            "postgres://%2Fvar%2Frun%2Fpostgresql/app",
            "host=/run/postgresql dbname=app",
        ] {
            assert_eq!(warning(url), None, "{url}");
        }
    }

    #[test]
    fn certificate_names_are_shown_without_webpki_wrapping() {
        assert_eq!(plain_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("URI"), "URI");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let (tls, _) =
            PgTls::from_url("postgres://db/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
                .expect("valid URL");
        let Err(message) = tls.connector() else {
            panic!("a missing CA file must be refused");
        };
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
    }
}
