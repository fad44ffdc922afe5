//! PostgreSQL over TLS (`sslmode` and `sslrootcert` in `DATABASE_URL`), against a
//! private PostgreSQL server started for each test with TLS on and a certificate for
//! `localhost` and `127.0.0.1` signed by a CA made for the test. The shared server on
//! port 5432 is left alone.
//!
//! Needs PostgreSQL's server binaries (`/usr/lib/postgresql/*/bin`); run as root, the
//! server runs as the `postgres` OS user.

use cloakroom::store::{self, Store};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use tempfile::TempDir;

/// A CA of the test's own, made fresh for each test.
fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA certificate")
}

/// The newest PostgreSQL server binaries installed Debian's way, if any.
fn pg_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A private PostgreSQL server with TLS, stopped when dropped (also when a test fails).
struct TlsPostgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    as_root: bool,
    /// The PEM file of the CA that signed the server's certificate.
    ca_file: PathBuf,
    /// The PEM file of a CA that had nothing to do with it.
    other_ca_file: PathBuf,
}

impl TlsPostgres {
    /// Starts the server, or returns `None` (and says so) where PostgreSQL is not installed.
    fn start() -> Option<Self> {
        let Some(bin) = pg_bin_dir() else {
            eprintln!("skipped: no /usr/lib/postgresql/*/bin/initdb on this machine");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let as_root = std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Self {
            bin,
            ca_file: dir.path().join("ca.pem"),
            other_ca_file: dir.path().join("other-ca.pem"),
            dir,
            port,
            as_root,
        };

        let ca = new_ca("Cloakroom test CA");
        let other_ca = new_ca("Some other CA");
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server certificate parameters")
            .signed_by(&key, &ca)
            .expect("server certificate");
        let path = server.dir.path();
        std::fs::write(&server.ca_file, ca.pem()).expect("write CA");
        std::fs::write(&server.other_ca_file, other_ca.pem()).expect("write other CA");
        std::fs::write(path.join("server.crt"), cert.pem()).expect("write certificate");
        std::fs::write(path.join("server.key"), key.serialize_pem()).expect("write key");
        std::fs::set_permissions(path.join("server.key"), std::fs::Permissions::from_mode(0o600))
            .expect("key file mode");
        if as_root {
            // PostgreSQL refuses to run as root: hand the directory to the postgres user.
            let (uid, gid) = postgres_ids();
            for p in [
                path.to_path_buf(),
                path.join("server.crt"),
                path.join("server.key"),
            ] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown to postgres");
            }
        }

        let data = path.join("data");
        server.run(
            Command::new(server.bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]),
        );
        let settings = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\n\
             ssl = on\nssl_cert_file = '{dir}/server.crt'\nssl_key_file = '{dir}/server.key'\n\
             fsync = off\n",
            dir = path.display()
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
        let log = path.join("server.log");
        let started = server.try_run(
            Command::new(server.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "start"]),
        );
        if let Err(e) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the private PostgreSQL did not start: {e}\n{log}");
        }
        Some(server)
    }

    /// Runs `command` as the postgres user when the test runs as root.
    fn try_run(&self, command: &mut Command) -> Result<(), String> {
        let mut command = if self.as_root {
            let mut wrapped = Command::new("runuser");
            wrapped
                .args(["-u", "postgres", "--"])
                .arg(command.get_program())
                .args(command.get_args());
            wrapped
        } else {
            std::mem::replace(command, Command::new("true"))
        };
        let out = command.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{:?} failed: {}{}",
                command,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn run(&self, command: &mut Command) {
        if let Err(e) = self.try_run(command) {
            panic!("{e}");
        }
    }

    /// A `DATABASE_URL` for this server at `host` (which must reach 127.0.0.1).
    fn url(&self, host: &str, params: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{params}", self.port)
    }

    /// How many client connections other than the asking one exist, and how many of
    /// them are encrypted, asked over a plain connection.
    async fn client_connections(&self) -> (i64, i64) {
        let url = self.url("127.0.0.1", "sslmode=disable");
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("plain connection for the checks");
        tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl) \
                 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.backend_type = 'client backend' AND s.pid <> pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_ssl");
        (row.get(0), row.get(1))
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let stopped = self.try_run(Command::new(self.bin.join("pg_ctl")).arg("-D").arg(&data).args([
            "-m",
            "immediate",
            "-w",
            "stop",
        ]));
        if let Err(e) = stopped {
            eprintln!("could not stop the private PostgreSQL: {e}");
        }
    }
}

/// The postgres user's uid and gid, from /etc/passwd.
fn postgres_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("a postgres user (PostgreSQL refuses to run as root)");
    let fields: Vec<&str> = line.split(':').collect();
    (
        fields[2].parse().expect("postgres uid"),
        fields[3].parse().expect("postgres gid"),
    )
}

async fn open(url: &str) -> Result<std::sync::Arc<Store>, String> {
    store::open(url, 4).await
}

async fn open_err(url: &str) -> String {
    match open(url).await {
        Ok(_) => panic!("{url} must be refused"),
        Err(message) => message,
    }
}

/// The store works on the connection and every connection it made is encrypted.
async fn assert_works_over_tls(pg: &TlsPostgres, store: &Store) {
    store
        .ensure_org("acme", cloakroom::domain::now())
        .await
        .expect("a write over TLS");
    let org = store.org_by_name("acme").await.expect("a read over TLS");
    assert!(org.is_some());
    let (connections, encrypted) = pg.client_connections().await;
    assert!(connections >= 1, "the store keeps a connection open");
    assert_eq!(encrypted, connections, "every connection of the store uses TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_servers_ca_connects_over_tls() {
    let Some(pg) = TlsPostgres::start() else { return };
    for host in ["127.0.0.1", "localhost"] {
        let url = pg.url(
            host,
            &format!("sslmode=verify-full&sslrootcert={}", pg.ca_file.display()),
        );
        let store = open(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_works_over_tls(&pg, store.as_ref()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_another_ca_refuses_to_start_and_says_why() {
    let Some(pg) = TlsPostgres::start() else { return };
    let other = pg.other_ca_file.display().to_string();
    let message = open_err(&pg.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={other}"))).await;
    eprintln!("{message}");
    assert_eq!(
        message,
        format!(
            "could not connect to PostgreSQL over TLS: the server's certificate is not signed by \
             the CA in {other} (sslmode=verify-full)"
        )
    );
    // verify-ca checks the chain as well.
    let message = open_err(&pg.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={other}"))).await;
    assert!(message.contains("not signed by the CA in"), "{message}");
    assert!(message.contains("sslmode=verify-ca"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_without_a_ca() {
    let Some(pg) = TlsPostgres::start() else { return };
    let store = open(&pg.url("127.0.0.1", "sslmode=require"))
        .await
        .expect("require connects");
    assert_works_over_tls(&pg, store.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_host_name_the_certificate_does_not_name() {
    let Some(pg) = TlsPostgres::start() else { return };
    let ca = pg.ca_file.display();
    // hostaddr reaches the server while the certificate is checked for the host name.
    let params = format!("sslmode=verify-full&sslrootcert={ca}&hostaddr=127.0.0.1");
    let message = open_err(&pg.url("db.example.com", &params)).await;
    eprintln!("{message}");
    assert!(
        message.starts_with(
            "could not connect to PostgreSQL over TLS: the server's certificate is not valid for \
             the host name db.example.com"
        ),
        "{message}"
    );
    assert!(
        message.ends_with("(it names localhost, 127.0.0.1) (sslmode=verify-full)"),
        "{message}"
    );
    // verify-ca does not check the name: the same URL connects.
    let params = format!("sslmode=verify-ca&sslrootcert={ca}&hostaddr=127.0.0.1");
    let store = open(&pg.url("db.example.com", &params))
        .await
        .expect("verify-ca connects");
    assert_works_over_tls(&pg, store.as_ref()).await;
}
