//! The `cloakroom` command: `serve` (the default), the `admin` bootstrap commands and
//! the client commands of [`crate::client`].

use crate::domain::config::Config;
use crate::domain::state::AppState;
use crate::validate::ResourceName;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cloakroom", version, about = "Self-hosted secrets dashboard")]
struct Cli {
    /// Settings file (environment variables override it).
    #[arg(long, global = true, env = "CLOAKROOM_CONFIG", default_value = "Leptos.toml")]
    config: PathBuf,
    #[command(flatten)]
    client: crate::client::commands::Globals,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Server(ServerCommand),
    #[command(flatten)]
    Client(crate::client::commands::ClientCommand),
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Serve the dashboard and the API (the default).
    Serve,
    /// Bootstrap users and API tokens.
    #[command(subcommand)]
    Admin(Admin),
    /// Print the REST API's OpenAPI 3.1 document (JSON), as the server serves it at
    /// /api/v1/openapi.json.
    Openapi,
}

#[derive(Subcommand)]
enum Admin {
    /// Create a user, the owner of a new organization. An existing organization is
    /// refused (its owners are named) unless --join-existing is given. The password is
    /// read from standard input when it is not a terminal, else prompted for twice.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: String,
        /// Make the user one more owner of --org when it exists already (never of a
        /// personal workspace).
        #[arg(long)]
        join_existing: bool,
    },
    /// Create an API token for a user of an organization; prints it once.
    CreateToken {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
    },
}

/// Parses the command line and runs it.
pub async fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are answers; anything else is a usage error (exit 1).
            return if e.use_stderr() {
                ExitCode::from(crate::client::exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let command = match cli.command {
        Some(Command::Client(client)) => return crate::client::commands::run(client, cli.client).await,
        Some(Command::Server(server)) => server,
        None => ServerCommand::Serve,
    };
    if let ServerCommand::Openapi = command {
        println!("{}", crate::web::rest::openapi::json());
        return ExitCode::SUCCESS;
    }
    init_logging();
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let result = match command {
        ServerCommand::Serve => serve(config).await,
        ServerCommand::Openapi => Ok(()),
        ServerCommand::Admin(Admin::CreateUser {
            email,
            org,
            join_existing,
        }) => create_user(config, &email, &org, join_existing).await,
        ServerCommand::Admin(Admin::CreateToken { email, org, name }) => {
            create_token(config, &email, &org, &name).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("cloakroom: {message}");
    ExitCode::FAILURE
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_new(crate::domain::config::log_filter()).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(config: Config) -> Result<(), String> {
    let addr = config.site_addr;
    let state = AppState::open(config).await?;
    if let Some(link) = crate::domain::setup::offer(&state)
        .await
        .map_err(|e| e.to_string())?
    {
        // Like Jenkins' initial admin password: only someone who can read this log
        // can claim the instance.
        tracing::warn!("no account exists yet: open this one-time link to create the owner: {link}");
        eprintln!("\n    Set up Cloakroom: {link}\n");
    }
    crate::domain::history::purge_hourly(state.clone());
    let app = crate::web::router::router(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("could not listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("Cloakroom listening on http://{local}");
    crate::web::router::serve(listener, app)
        .await
        .map_err(|e| e.to_string())
}

fn read_password() -> Result<zeroize::Zeroizing<String>, String> {
    let password = if std::io::stdin().is_terminal() {
        let first =
            zeroize::Zeroizing::new(rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?);
        let second = zeroize::Zeroizing::new(
            rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?,
        );
        if *first != *second {
            return Err("the passwords do not match".into());
        }
        first
    } else {
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
        zeroize::Zeroizing::new(trimmed)
    };
    if password.chars().count() < crate::domain::auth::MIN_PASSWORD_LEN {
        return Err(format!(
            "the password must be at least {} characters",
            crate::domain::auth::MIN_PASSWORD_LEN
        ));
    }
    Ok(password)
}

async fn create_user(config: Config, email: &str, org: &str, join_existing: bool) -> Result<(), String> {
    let email = crate::validate::check_email(email).map_err(|e| e.message)?;
    let org = ResourceName::parse_as("organization name", org).map_err(|e| e.message)?;
    let password = read_password()?;
    let state = AppState::open(config).await?;
    let hash = crate::domain::auth::hash_password(&password).map_err(|e| e.to_string())?;
    let made = crate::domain::orgs::admin_create_user(&state, &email, &hash, org.as_str(), join_existing)
        .await
        .map_err(|e| e.to_string())?;
    let personal = match &made.personal {
        Some(p) => format!(" and personal workspace {}", p.name),
        None => String::new(),
    };
    match &made.joined_owners {
        Some(owners) => println!(
            "created user {email}{personal}; joined the existing organization {} as one more \
             owner, beside {}",
            made.org.name,
            if owners.is_empty() {
                "no other owner".to_owned()
            } else {
                owners.join(", ")
            }
        ),
        None => println!(
            "created user {email}, owner of the new organization {}{personal}",
            made.org.name
        ),
    }
    Ok(())
}

async fn create_token(config: Config, email: &str, org: &str, name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err("the token name must be 1 to 100 characters".into());
    }
    let state = AppState::open(config).await?;
    let missing = || format!("no user {email} in organization {org}");
    let principal = crate::domain::orgs::member_principal(&state, email, org)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(missing)?;
    let token = crate::domain::auth::create_api_token(&state, &principal, name)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "API token \"{name}\" for {} in {} (shown only once):",
        principal.email, principal.org.name
    );
    println!("{token}");
    Ok(())
}
