//! The client's commands. Each checks its input with the same rules the server uses
//! (so mistakes are caught before anything is sent), shows what it is about to change,
//! asks unless `--yes`, then makes one REST call.

use super::api::{Api, Server};
use super::config::{self, Saved};
use super::output::{self, confirm, list, note, say};
use super::{exit, Failure};
use crate::rest_types as body;
use crate::validate::{parse_pairs, preview_write, validate_pairs, Pair, ResourceName, SecretKey};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::json;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_SERVER: &str = "http://127.0.0.1:3000";

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// Flags every client command takes.
#[derive(Args, Clone)]
pub struct Globals {
    /// Server URL [default: the saved one, else http://127.0.0.1:3000].
    #[arg(long, global = true, env = "CLOAKROOM_SERVER")]
    pub server: Option<String>,
    /// Organization [default: the selected one, else the token's].
    #[arg(long, global = true, env = "CLOAKROOM_ORG")]
    pub org: Option<String>,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Allow a plain http:// server that is not on this machine (the token and the
    /// values would cross the network unencrypted).
    #[arg(long, global = true)]
    pub insecure: bool,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Ask for an API token and save it with the server URL.
    Login,
    /// Show the current organization, select NAME, or `org create NAME`.
    Org {
        /// NAME to select, or `create NAME`.
        #[arg(num_args = 0..=2)]
        args: Vec<String>,
    },
    /// Secret sets and image pull secrets.
    #[command(subcommand)]
    Secrets(Secrets),
    /// Create or update a deployment (reads ./pcc-deploy.toml when present).
    Deploy(DeployArgs),
    /// List or redeploy deployments.
    #[command(subcommand)]
    Deployments(Deployments),
    /// Run a command with a deployment's secrets in its environment.
    Run {
        /// Environment variable holding the deployment's runtime token.
        #[arg(long, default_value = "CLOAKROOM_RUNTIME_TOKEN")]
        token_env: String,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
}

#[derive(Subcommand)]
pub enum Secrets {
    /// Add or update keys: KEY=value arguments (as the shell passes them) or --file.
    Set {
        set: String,
        pairs: Vec<String>,
        /// Read KEY=value lines from a file, or `-` for standard input.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// List secret sets and image pull secrets, or the keys of SET.
    List { set: Option<String> },
    /// Remove one key from a set.
    Unset { set: String, key: String },
    /// Delete a secret set (restorable with `secrets undelete` until it is purged) or an
    /// image pull secret.
    Delete { set: String },
    /// Compare two sides key by key (exit 0 equal, 1 different): sets, versions
    /// (SET@3), deployments (deployment:NAME); or a set with a local file of pairs.
    Diff {
        a: String,
        b: Option<String>,
        /// Compare set A with the KEY=value pairs of this file (`-`: standard input);
        /// the server compares the values and says only same or different per key.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Is a value (typed hidden, or on standard input) the one stored under SET KEY?
    /// Exit 0 same, 1 different.
    Check { set: String, key: String },
    /// Where does a value (typed hidden, or on standard input) live? Every set, set
    /// version and deployment revision holding it (admins). Exit 0 found, 1 not.
    Find,
    /// List the versions of a set: who changed which keys, when (never values).
    History { set: String },
    /// Restore a set, or only some keys of it, to an earlier version (as a new version).
    Restore {
        set: String,
        /// The version to restore from (see `secrets history`).
        #[arg(long)]
        version: i64,
        /// Restore only this key (repeat for more); without it, every key.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
    /// List recently deleted sets.
    Deleted,
    /// Restore a deleted set, under its old name or --as NEW.
    Undelete {
        set: String,
        /// Restore it under this name (when its old one is taken again).
        #[arg(long = "as")]
        as_name: Option<String>,
    },
    /// Create an image pull secret for a private registry (prompts for credentials).
    ImagePullSecret {
        name: String,
        host: String,
        /// USER:PASS; asked for (the password hidden) when left out.
        credentials: Option<String>,
        /// Send the credentials as a base64 `auth` string instead of separate fields.
        #[arg(long)]
        base64encode: bool,
    },
}

#[derive(Args)]
pub struct DeployArgs {
    /// Deployment name [default: agent_name in pcc-deploy.toml].
    name: Option<String>,
    #[arg(long)]
    image: Option<String>,
    /// Secret set to provide as environment variables.
    #[arg(long)]
    secrets: Option<String>,
    /// Image pull secret for the image's registry.
    #[arg(long)]
    credentials: Option<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    min_agents: Option<i64>,
    #[arg(long)]
    max_agents: Option<i64>,
}

#[derive(Subcommand)]
pub enum Deployments {
    /// List deployments and whether they need a redeploy.
    List,
    /// Deploy the current contents of a deployment's secret set.
    Redeploy { name: String },
    /// List a deployment's kept revisions.
    Revisions { name: String },
    /// Serve an earlier revision again (its settings and exact environment), as a new
    /// revision.
    Rollback {
        name: String,
        #[arg(long)]
        revision: i64,
    },
}

/// Runs one client command and turns its outcome into the process exit code.
pub async fn run(command: ClientCommand, globals: Globals) -> ExitCode {
    let result = async {
        let ctx = Ctx::new(globals)?;
        // Before anything is asked or read: a token or value typed for a server reached
        // over plain http would cross the network unencrypted.
        ctx.server()?;
        match command {
            ClientCommand::Login => login(&ctx).await,
            ClientCommand::Org { args } => match args.as_slice() {
                [] => org(&ctx, None).await,
                [name] => org(&ctx, Some(name.clone())).await,
                [create, name] if create == "create" => org_create(&ctx, name).await,
                _ => Err(Failure::usage(
                    "use: cloakroom org [NAME] | cloakroom org create NAME",
                )),
            },
            ClientCommand::Secrets(s) => secrets(&ctx, s).await,
            ClientCommand::Deploy(args) => deploy(&ctx, args).await,
            ClientCommand::Deployments(Deployments::List) => deployments_list(&ctx).await,
            ClientCommand::Deployments(Deployments::Redeploy { name }) => redeploy(&ctx, &name).await,
            ClientCommand::Deployments(Deployments::Revisions { name }) => revisions(&ctx, &name).await,
            ClientCommand::Deployments(Deployments::Rollback { name, revision }) => {
                rollback(&ctx, &name, revision).await
            }
            ClientCommand::Run { token_env, command } => run_with_env(&ctx, &token_env, command).await,
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            output::error(&f);
            ExitCode::from(f.code)
        }
    }
}

/// Flags, environment and saved settings, resolved in that order.
struct Ctx {
    globals: Globals,
    saved: Saved,
    path: PathBuf,
}

impl Ctx {
    fn new(globals: Globals) -> Result<Self, Failure> {
        let path = config::path()?;
        let saved = config::load(&path)?;
        Ok(Self { globals, saved, path })
    }

    /// The server to talk to, refused over plain http to another machine unless
    /// `--insecure`: every command reaches the server through here.
    fn server(&self) -> Result<Server, Failure> {
        let raw = self
            .globals
            .server
            .clone()
            .or_else(|| self.saved.server.clone())
            .unwrap_or_else(|| DEFAULT_SERVER.into());
        Server::parse(&raw, self.globals.insecure)
    }

    fn api(&self) -> Result<Api, Failure> {
        let server = self.server()?;
        let token = config::env_token("CLOAKROOM_TOKEN")
            .or_else(|| self.saved.token.clone())
            .ok_or_else(|| {
                Failure::new(
                    exit::AUTH,
                    "not logged in: run `cloakroom login` or set CLOAKROOM_TOKEN",
                )
            })?;
        Api::new(&server, &token)
    }

    /// The organization commands act on: `--org`/`CLOAKROOM_ORG`, the selected one, or
    /// the token's own.
    async fn org(&self, api: &Api) -> Result<String, Failure> {
        let chosen = self.globals.org.clone().or_else(|| self.saved.org.clone());
        let name = match chosen {
            Some(name) => name,
            None => api.get::<body::WhoAmI>("/api/v1/whoami").await?.org,
        };
        Ok(ResourceName::parse_as("organization name", &name)?.to_string())
    }

    fn json(&self) -> bool {
        self.globals.output == Output::Json
    }
}

async fn login(ctx: &Ctx) -> Result<(), Failure> {
    let server = ctx.server()?;
    let token = output::read_secret(&format!("API token for {server}: "))?;
    if token.trim().is_empty() {
        return Err(Failure::usage(
            "no token given; create one on the server's API tokens page",
        ));
    }
    let api = Api::new(&server, &token)?;
    let me: body::WhoAmI = api.get("/api/v1/whoami").await?;
    let mut saved = ctx.saved.clone();
    saved.server = Some(server.to_string());
    saved.token = Some(token.trim().to_owned());
    saved.org = Some(me.org.clone());
    config::save(&ctx.path, &saved)?;
    if ctx.json() {
        output::json(&json!({ "server": server.as_str(), "email": me.email, "org": me.org }));
    } else {
        say!(
            "Logged in to {server} as {} (organization {}); settings saved in {}",
            me.email,
            me.org,
            ctx.path.display()
        );
    }
    Ok(())
}

async fn org(ctx: &Ctx, name: Option<String>) -> Result<(), Failure> {
    let api = ctx.api()?;
    let Some(name) = name else {
        let current = ctx.org(&api).await?;
        if ctx.json() {
            output::json(&json!({ "org": current }));
        } else {
            say!("{current}");
        }
        return Ok(());
    };
    let name = ResourceName::parse_as("organization name", &name)?.to_string();
    // Another organization's objects answer 404, so this also says "not yours".
    api.get_opt::<body::SetList>(&format!("/api/v1/orgs/{name}/secrets?limit=1"))
        .await?
        .ok_or_else(|| {
            Failure::new(
                exit::NOT_FOUND,
                format!("organization \"{name}\" not found (or this token has no access to it)"),
            )
        })?;
    let mut saved = ctx.saved.clone();
    saved.org = Some(name.clone());
    config::save(&ctx.path, &saved)?;
    if ctx.json() {
        output::json(&json!({ "org": name }));
    } else {
        say!("Now using organization {name}");
    }
    Ok(())
}

/// Creates an organization owned by the token's user.
async fn org_create(ctx: &Ctx, name: &str) -> Result<(), Failure> {
    let name = ResourceName::parse_as("organization name", name)?.to_string();
    let api = ctx.api()?;
    let new = body::NewOrg { name: name.clone() };
    let created: body::OrgCreated = api.call(Method::POST, "/api/v1/orgs", Some(&new), None).await?;
    if ctx.json() {
        output::json(&created);
    } else {
        say!(
            "Created organization {name}: you are its owner. Create an API token on its API tokens \
             page to use it from here."
        );
    }
    Ok(())
}

async fn secrets(ctx: &Ctx, command: Secrets) -> Result<(), Failure> {
    match command {
        Secrets::Set { set, pairs, file } => secrets_set(ctx, &set, &pairs, file).await,
        Secrets::List { set: None } => secrets_list(ctx).await,
        Secrets::List { set: Some(set) } => set_keys(ctx, &set).await,
        Secrets::Unset { set, key } => secrets_unset(ctx, &set, &key).await,
        Secrets::Delete { set } => secrets_delete(ctx, &set).await,
        Secrets::Diff { a, b, file } => secrets_diff(ctx, &a, b.as_deref(), file).await,
        Secrets::Check { set, key } => secrets_check(ctx, &set, &key).await,
        Secrets::Find => secrets_find(ctx).await,
        Secrets::History { set } => secrets_history(ctx, &set).await,
        Secrets::Restore { set, version, keys } => secrets_restore(ctx, &set, version, keys).await,
        Secrets::Deleted => secrets_deleted(ctx).await,
        Secrets::Undelete { set, as_name } => secrets_undelete(ctx, &set, as_name).await,
        Secrets::ImagePullSecret {
            name,
            host,
            credentials,
            base64encode,
        } => image_pull_secret(ctx, &name, &host, credentials, base64encode).await,
    }
}

/// Splits each argument at its first `=` and keeps the value exactly as the shell
/// passed it: no trimming, no quote handling (the shell already did that).
fn pairs_from_args(args: &[String]) -> Result<Vec<Pair>, Failure> {
    let mut split = Vec::new();
    let mut errors = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        match arg.split_once('=') {
            Some(kv) => split.push(kv),
            // Not echoed: a mis-quoted argument may be part of a value.
            None => errors.push(crate::validate::FieldError {
                field: format!("pair {}", i + 1),
                message: format!(
                    "pair {} is not KEY=value (it has no \"=\"); quote values with spaces, e.g. KEY=\"a b\"",
                    i + 1
                ),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(validate_pairs(split)?)
}

fn read_pairs_file(file: &std::path::Path) -> Result<Vec<Pair>, Failure> {
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Failure::usage(format!("could not read standard input as UTF-8 text: {e}")))?;
        text
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Failure::usage(format!("could not read {}: {e}", file.display())))?
    };
    Ok(parse_pairs(&text)?)
}

/// Names of the deployments that use secret set `set`.
async fn set_users(api: &Api, org: &str, set: &str) -> Result<Vec<String>, Failure> {
    Ok(all_deployments(api, org)
        .await?
        .into_iter()
        .filter(|d| d.secret_set.as_deref() == Some(set))
        .map(|d| d.name)
        .collect())
}

fn keys_of(set: &body::SetBody) -> Vec<String> {
    set.keys.iter().map(|k| k.key.clone()).collect()
}

async fn secrets_set(ctx: &Ctx, set: &str, args: &[String], file: Option<PathBuf>) -> Result<(), Failure> {
    let name = ResourceName::parse(set)?;
    let pairs = match file {
        Some(_) if !args.is_empty() => {
            return Err(Failure::usage("give KEY=value pairs or --file, not both"));
        }
        Some(f) if f.as_os_str() == "-" && !ctx.globals.yes => {
            return Err(Failure::usage(
                "--file - reads the pairs from standard input, which leaves no way to answer the confirmation: add --yes",
            ));
        }
        Some(f) => read_pairs_file(&f)?,
        None if args.is_empty() => {
            return Err(Failure::usage(
                "nothing to set: give KEY=value pairs or --file FILE",
            ));
        }
        None => pairs_from_args(args)?,
    };
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let path = format!("/api/v1/orgs/{org}/secrets/{name}");
    let current: Option<body::SetBody> = api.get_opt(&path).await?;
    // A set that does not exist yet is at revision 0: demanding it makes the write
    // create-only, so a set someone creates while the question waits is not overwritten.
    let revision = match &current {
        Some(c) => Some(c.revision),
        None => Some(0),
    };
    let preview = preview_write(
        pairs.iter().map(|p| &p.key),
        &current.as_ref().map(keys_of).unwrap_or_default(),
    );
    let users = set_users(&api, &org, name.as_str()).await?;
    note!(
        "Secret set {name}{} in organization {org}:",
        if current.is_none() { " (new)" } else { "" }
    );
    if !preview.added.is_empty() {
        note!("  add:    {}", preview.added.join(", "));
    }
    if !preview.updated.is_empty() {
        note!("  update: {}", preview.updated.join(", "));
    }
    if !users.is_empty() {
        note!("  afterwards {} will need a redeploy", list(&users));
    }
    for warning in crate::validate::loader_key_warnings(pairs.iter().map(|p| p.key.as_str())) {
        note!("  warning: {warning}");
    }
    confirm(
        &format!("Write {} key(s) to {name}?", pairs.len()),
        ctx.globals.yes,
    )?;
    let put = body::PutSecrets {
        secrets: pairs
            .iter()
            .map(|p| body::PutSecret {
                key: p.key.to_string(),
                value: crate::model::Concealed(p.value.clone()),
            })
            .collect(),
    };
    let result: body::SetWritten = api.call(Method::PUT, &path, Some(&put), revision).await?;
    if ctx.json() {
        output::json(&json!({
            "set": name.as_str(),
            "created": result.created,
            "added": result.added,
            "updated": result.updated,
            "revision": result.set.revision,
            "needs_redeploy": users,
        }));
    } else {
        say!(
            "{} secret set {name}: {} added, {} updated (revision {})",
            if result.created { "Created" } else { "Updated" },
            preview.added.len(),
            preview.updated.len(),
            result.set.revision
        );
        for d in &users {
            say!("Deployment {d} needs a redeploy: cloakroom deployments redeploy {d}");
        }
    }
    Ok(())
}

/// One line of `secrets list`: a secret set or an image pull secret.
#[derive(serde::Serialize)]
struct SecretItem {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registry: Option<String>,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    used_by: Option<Vec<String>>,
}

/// Every item of a REST list at `path`, following its pages (the largest the server
/// allows); `split` takes a page apart into its items and its `next`.
async fn all_pages<P: serde::de::DeserializeOwned, T>(
    api: &Api,
    path: &str,
    split: impl Fn(P) -> (Vec<T>, Option<String>),
) -> Result<Vec<T>, Failure> {
    let first = format!("{path}?limit={}", crate::model::MAX_PAGE_SIZE);
    let mut items = Vec::new();
    let mut url = first.clone();
    let mut cursors = std::collections::HashSet::new();
    loop {
        let (page, next) = split(api.get(&url).await?);
        items.extend(page);
        match next {
            // A server (or something in between) that ignores `after` would send the
            // same cursor again: stop rather than loop.
            Some(after) if !cursors.insert(after.clone()) => {
                return Err(Failure::new(
                    exit::SERVER,
                    format!(
                        "the server sent the page after \"{after}\" twice; is something rewriting requests?"
                    ),
                ))
            }
            Some(after) => url = crate::api::with_param(&first, "after", &after),
            None => return Ok(items),
        }
    }
}

async fn all_sets(api: &Api, org: &str) -> Result<Vec<body::SetItem>, Failure> {
    all_pages(api, &format!("/api/v1/orgs/{org}/secrets"), |p: body::SetList| {
        (p.sets, p.next)
    })
    .await
}

async fn all_deployments(api: &Api, org: &str) -> Result<Vec<body::DeploymentItem>, Failure> {
    all_pages(
        api,
        &format!("/api/v1/orgs/{org}/deployments"),
        |p: body::DeploymentList| (p.deployments, p.next),
    )
    .await
}

async fn secrets_list(ctx: &Ctx) -> Result<(), Failure> {
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let sets = all_sets(&api, &org).await?;
    let pulls: body::PullSecretList = api.get(&format!("/api/v1/orgs/{org}/image-pull-secrets")).await?;
    let mut items: Vec<SecretItem> = sets
        .into_iter()
        .map(|s| SecretItem {
            name: s.name,
            kind: "secret",
            keys: Some(s.key_count),
            registry: None,
            updated_at: s.updated_at,
            used_by: None,
        })
        .collect();
    items.extend(pulls.image_pull_secrets.into_iter().map(|p| SecretItem {
        name: p.name,
        kind: "image-pull-secret",
        keys: None,
        registry: Some(p.registry),
        updated_at: p.created_at,
        used_by: Some(p.used_by),
    }));
    items.sort_by(|a, b| a.name.cmp(&b.name));
    if ctx.json() {
        output::json(&json!({ "org": org, "secrets": items }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .into_iter()
        .map(|i| {
            let keys = i.keys.map_or_else(|| "-".to_owned(), |k| k.to_string());
            vec![i.name, i.kind.to_owned(), keys, i.updated_at]
        })
        .collect();
    output::table(&["NAME", "TYPE", "KEYS", "UPDATED"], &rows);
    Ok(())
}

async fn set_keys(ctx: &Ctx, set: &str) -> Result<(), Failure> {
    let name = ResourceName::parse(set)?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let detail: body::SetBody = api.get(&format!("/api/v1/orgs/{org}/secrets/{name}")).await?;
    if ctx.json() {
        output::json(&detail);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = detail
        .keys
        .into_iter()
        .map(|k| {
            vec![
                k.key,
                k.fingerprint.unwrap_or_else(|| "hidden".into()),
                k.updated_at.unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(&["KEY", "FINGERPRINT", "UPDATED"], &rows);
    Ok(())
}

async fn secrets_unset(ctx: &Ctx, set: &str, key: &str) -> Result<(), Failure> {
    let name = ResourceName::parse(set)?;
    let key = SecretKey::parse(key)?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let path = format!("/api/v1/orgs/{org}/secrets/{name}");
    let detail: body::SetBody = api.get(&path).await?;
    if !keys_of(&detail).iter().any(|k| k == key.as_str()) {
        return Err(Failure::new(
            exit::NOT_FOUND,
            format!("secret set {name} has no key {key}"),
        ));
    }
    let users = set_users(&api, &org, name.as_str()).await?;
    if !users.is_empty() {
        note!("Afterwards {} will need a redeploy.", list(&users));
    }
    confirm(
        &format!("Remove key {key} from secret set {name}?"),
        ctx.globals.yes,
    )?;
    api.call_empty(Method::DELETE, &format!("{path}/{key}"), Some(detail.revision))
        .await?;
    if ctx.json() {
        output::json(&json!({ "set": name.as_str(), "removed": key.as_str(), "needs_redeploy": users }));
    } else {
        say!("Removed {key} from secret set {name}");
    }
    Ok(())
}

async fn secrets_delete(ctx: &Ctx, name: &str) -> Result<(), Failure> {
    let name = ResourceName::parse_as("name", name)?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let set_path = format!("/api/v1/orgs/{org}/secrets/{name}");
    let (path, what, undo) = if let Some(set) = api.get_opt::<body::SetBody>(&set_path).await? {
        (
            set_path,
            format!("secret set {name} and its {} key(s)", keys_of(&set).len()),
            format!("It can be restored with `cloakroom secrets undelete {name}` until it is purged."),
        )
    } else {
        let pulls: body::PullSecretList = api.get(&format!("/api/v1/orgs/{org}/image-pull-secrets")).await?;
        let exists = pulls.image_pull_secrets.iter().any(|p| p.name == name.as_str());
        if !exists {
            return Err(Failure::new(
                exit::NOT_FOUND,
                format!("no secret set or image pull secret named {name} in organization {org}"),
            ));
        }
        (
            format!("/api/v1/orgs/{org}/image-pull-secrets/{name}"),
            format!("image pull secret {name}"),
            "This cannot be undone.".to_owned(),
        )
    };
    confirm(&format!("Delete {what}? {undo}"), ctx.globals.yes)?;
    api.call_empty(Method::DELETE, &path, None).await?;
    if ctx.json() {
        output::json(&json!({ "deleted": name.as_str() }));
    } else {
        say!("Deleted {what}");
    }
    Ok(())
}

/// Prints lists of keys under their headings; whether any list that means "differs" is
/// not empty.
fn print_verdicts(groups: &[(&str, &Vec<String>, bool)]) -> bool {
    let mut differs = false;
    for (title, keys, bad) in groups {
        if keys.is_empty() {
            continue;
        }
        differs |= bad;
        say!("{title} ({}): {}", keys.len(), keys.join(", "));
    }
    differs
}

async fn secrets_diff(ctx: &Ctx, a: &str, b: Option<&str>, file: Option<PathBuf>) -> Result<(), Failure> {
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let differs = match (b, file) {
        (Some(_), Some(_)) => return Err(Failure::usage("give a second side or --file, not both")),
        (None, None) => return Err(Failure::usage("give a second side (B) or --file FILE")),
        (Some(b), None) => {
            let base = format!("/api/v1/orgs/{org}/secrets-compare");
            let path = crate::api::with_param(&crate::api::with_param(&base, "a", a), "b", b);
            let c: crate::model::Comparison = api.get(&path).await?;
            if ctx.json() {
                output::json(&c);
                !c.equal()
            } else {
                let (only_a, only_b) = (format!("only in {a}"), format!("only in {b}"));
                let differs = print_verdicts(&[
                    (&only_a, &c.only_in_a, true),
                    (&only_b, &c.only_in_b, true),
                    ("different", &c.different, true),
                    ("same", &c.same, false),
                ]);
                if !differs {
                    say!("{a} and {b} hold the same keys with the same values");
                }
                differs
            }
        }
        (None, Some(f)) => {
            let set = ResourceName::parse(a)?;
            let pairs = read_pairs_file(&f)?;
            let request = body::CompareValues {
                a: set.to_string(),
                secrets: pairs
                    .iter()
                    .map(|p| body::PutSecret {
                        key: p.key.to_string(),
                        value: crate::model::Concealed(p.value.clone()),
                    })
                    .collect(),
            };
            let c: body::ValuesCompared = api
                .call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/secrets-compare"),
                    Some(&request),
                    None,
                )
                .await?;
            let differs = !(c.different.is_empty() && c.missing.is_empty() && c.extra.is_empty());
            if ctx.json() {
                output::json(&c);
            } else {
                let (missing, extra) = (format!("only in {set}"), format!("only in {}", f.display()));
                print_verdicts(&[
                    (&missing, &c.missing, true),
                    (&extra, &c.extra, true),
                    ("different", &c.different, true),
                    ("same", &c.same, false),
                ]);
                if !differs {
                    say!("{set} holds exactly the pairs of {}", f.display());
                }
            }
            differs
        }
    };
    if differs {
        return Err(Failure::new(1, "they differ"));
    }
    Ok(())
}

/// A value to look up: typed hidden (one line), or everything on standard input less
/// one final line break.
fn read_value(prompt: &str) -> Result<zeroize::Zeroizing<String>, Failure> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return output::read_secret(prompt);
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| Failure::usage(format!("could not read standard input as UTF-8 text: {e}")))?;
    let end = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .map(str::len);
    if let Some(end) = end {
        text.truncate(end);
    }
    Ok(text)
}

async fn secrets_find(ctx: &Ctx) -> Result<(), Failure> {
    let value = read_value("Value to find: ")?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let request = body::FindValue {
        value: crate::model::Concealed(value.to_string()),
    };
    let found: body::Found = api
        .call(
            Method::POST,
            &format!("/api/v1/orgs/{org}/secrets-find"),
            Some(&request),
            None,
        )
        .await?;
    if ctx.json() {
        output::json(&found);
    } else if !found.places.is_empty() {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let num = |v: Option<i64>| v.map_or_else(|| "-".into(), |n| n.to_string());
        let rows: Vec<Vec<String>> = found
            .places
            .iter()
            .map(|p| {
                let mut set = opt(&p.set);
                if p.deleted {
                    set.push_str(" (deleted)");
                }
                vec![
                    p.kind.clone(),
                    set,
                    p.key.clone(),
                    num(p.version),
                    opt(&p.deployment),
                    num(p.revision),
                ]
            })
            .collect();
        output::table(
            &["KIND", "SET", "KEY", "VERSION", "DEPLOYMENT", "REVISION"],
            &rows,
        );
        if found.total > found.places.len() {
            note!(
                "{} places hold the value in all; the server lists the first {}",
                found.total,
                found.places.len()
            );
        }
    }
    if found.places.is_empty() {
        return Err(Failure::new(
            1,
            format!("the value is nowhere in organization {org}"),
        ));
    }
    Ok(())
}

async fn secrets_check(ctx: &Ctx, set: &str, key: &str) -> Result<(), Failure> {
    let name = ResourceName::parse(set)?;
    let key = SecretKey::parse(key)?;
    let value = read_value(&format!("Value of {key} to check: "))?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let request = body::CheckValue {
        set: name.to_string(),
        key: key.to_string(),
        value: crate::model::Concealed(value.to_string()),
    };
    let answer: body::Checked = api
        .call(
            Method::POST,
            &format!("/api/v1/orgs/{org}/secret-checks"),
            Some(&request),
            None,
        )
        .await?;
    if ctx.json() {
        output::json(&answer);
    } else if answer.matches {
        say!("{key} in {name} is that value");
    }
    if !answer.matches {
        return Err(Failure::new(1, format!("{key} in {name} holds another value")));
    }
    Ok(())
}

async fn secrets_history(ctx: &Ctx, set: &str) -> Result<(), Failure> {
    let name = ResourceName::parse(set)?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let list = body::VersionList {
        versions: all_pages(
            &api,
            &format!("/api/v1/orgs/{org}/secret-versions/{name}"),
            |p: body::VersionList| (p.versions, p.next.map(|n| n.to_string())),
        )
        .await?,
        next: None,
    };
    if ctx.json() {
        output::json(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .versions
        .into_iter()
        .map(|v| {
            let mut changes = Vec::new();
            for (sign, keys) in [("+", &v.added), ("~", &v.changed), ("-", &v.removed)] {
                changes.extend(keys.iter().map(|k| format!("{sign}{k}")));
            }
            let mut action = v.action;
            if !v.detail.is_empty() {
                action = format!("{action} ({})", v.detail);
            }
            vec![
                v.version.to_string(),
                v.at,
                v.actor,
                v.source,
                action,
                changes.join(" "),
            ]
        })
        .collect();
    output::table(&["VERSION", "AT", "WHO", "FROM", "ACTION", "CHANGES"], &rows);
    Ok(())
}

/// Prints what a restore changes; whether it changes anything.
fn print_restore_plan(plan: &body::RestorePlan) -> bool {
    let mut any = false;
    for (what, keys) in [
        ("add back", &plan.added),
        ("change back", &plan.changed),
        ("remove", &plan.removed),
    ] {
        if !keys.is_empty() {
            note!("  {what:<12} {}", keys.join(", "));
            any = true;
        }
    }
    if any && !plan.deployments.is_empty() {
        note!("  afterwards {} will need a redeploy", list(&plan.deployments));
    }
    any
}

async fn secrets_restore(ctx: &Ctx, set: &str, version: i64, keys: Vec<String>) -> Result<(), Failure> {
    let name = ResourceName::parse(set)?;
    let mut errors = Vec::new();
    for k in &keys {
        if let Err(e) = SecretKey::parse(k) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let request = body::RestoreRequest {
        set: name.to_string(),
        version,
        keys: (!keys.is_empty()).then_some(keys),
    };
    let path = format!("/api/v1/orgs/{org}/secret-restores");
    let plan: body::RestorePlan = api
        .call(
            Method::POST,
            &format!("{path}?dry_run=true"),
            Some(&request),
            None,
        )
        .await?;
    note!("Restoring secret set {name} in organization {org} from version {version}:");
    if !print_restore_plan(&plan) {
        if ctx.json() {
            output::json(
                &json!({"set": name.as_str(), "restored_from": version, "revision": plan.revision,
                "added": [], "changed": [], "removed": [], "needs_redeploy": []}),
            );
        } else {
            say!("Secret set {name} already holds those values of version {version}: nothing to restore");
        }
        return Ok(());
    }
    confirm(
        &format!("Restore {name} from version {version}?"),
        ctx.globals.yes,
    )?;
    // The revision the preview was made at: a change in between refuses the restore.
    let done: body::RestoreDone = api
        .call(Method::POST, &path, Some(&request), Some(plan.revision))
        .await?;
    if ctx.json() {
        output::json(
            &json!({"set": name.as_str(), "restored_from": version, "revision": done.set.revision,
            "added": done.added, "changed": done.changed, "removed": done.removed,
            "needs_redeploy": plan.deployments}),
        );
    } else {
        say!(
            "Restored secret set {name} from version {version} (revision {})",
            done.set.revision
        );
        for d in &plan.deployments {
            say!("Deployment {d} needs a redeploy: cloakroom deployments redeploy {d}");
        }
    }
    Ok(())
}

async fn secrets_deleted(ctx: &Ctx) -> Result<(), Failure> {
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let list: body::DeletedList = api.get(&format!("/api/v1/orgs/{org}/deleted-secrets")).await?;
    if ctx.json() {
        output::json(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .deleted
        .into_iter()
        .map(|d| {
            let name = if d.name_taken {
                format!("{} (name in use)", d.name)
            } else {
                d.name
            };
            vec![name, d.keys.to_string(), d.deleted_at, d.deleted_by, d.purge_at]
        })
        .collect();
    output::table(&["NAME", "KEYS", "DELETED", "BY", "PURGED"], &rows);
    Ok(())
}

async fn secrets_undelete(ctx: &Ctx, set: &str, as_name: Option<String>) -> Result<(), Failure> {
    let name = ResourceName::parse(set)?;
    let new_name = as_name.as_deref().map(ResourceName::parse).transpose()?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let list: body::DeletedList = api.get(&format!("/api/v1/orgs/{org}/deleted-secrets")).await?;
    // The newest deletion of that name (the list is newest first).
    let Some(found) = list.deleted.into_iter().find(|d| d.name == name.as_str()) else {
        return Err(Failure::new(
            exit::NOT_FOUND,
            format!(
                "no deleted secret set named {name} in organization {org} (see `cloakroom secrets deleted`)"
            ),
        ));
    };
    let target = new_name.as_ref().unwrap_or(&name);
    if found.name_taken && new_name.is_none() {
        return Err(Failure::new(
            exit::CONFLICT,
            format!("a secret set named {name} exists again: restore this one with --as NEW_NAME"),
        ));
    }
    note!(
        "Deleted secret set {name} ({} key(s), deleted {} by {}) will be restored as {target}.",
        found.keys,
        found.deleted_at,
        found.deleted_by
    );
    confirm(&format!("Restore {name}?"), ctx.globals.yes)?;
    let request = body::Undelete {
        name: new_name.as_ref().map(ToString::to_string),
    };
    let set: body::SetBody = api
        .call(
            Method::POST,
            &format!("/api/v1/orgs/{org}/deleted-secrets/{}/restore", found.id),
            Some(&request),
            None,
        )
        .await?;
    if ctx.json() {
        output::json(&set);
    } else {
        say!("Restored secret set {} with {} key(s)", set.name, set.keys.len());
    }
    Ok(())
}

async fn image_pull_secret(
    ctx: &Ctx,
    name: &str,
    host: &str,
    credentials: Option<String>,
    base64encode: bool,
) -> Result<(), Failure> {
    let (username, password) = match credentials {
        Some(c) => {
            let (u, p) = c.split_once(':').ok_or_else(|| {
                Failure::usage("credentials must be USER:PASS (or leave them out to be asked)")
            })?;
            (u.to_owned(), zeroize::Zeroizing::new(p.to_owned()))
        }
        None => (
            output::read_line("Username: ")?,
            output::read_secret("Password or token: ")?,
        ),
    };
    let auth = if base64encode {
        crate::validate::base64_encode(format!("{username}:{}", password.as_str()).as_bytes())
    } else {
        String::new()
    };
    // The server's own checks, run here first for an immediate answer.
    crate::validate::check_new_pull_secret(name, host, &username, &password, &auth, !base64encode)
        .map_err(|errors| crate::error::AppError::Validation(errors.into()))?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let (username, password, auth) = if base64encode {
        (String::new(), String::new(), Some(auth))
    } else {
        (username, password.as_str().to_owned(), None)
    };
    let new = body::NewPullSecret {
        name: name.to_owned(),
        registry: host.trim().to_owned(),
        username,
        password: crate::model::Concealed(password),
        auth: auth.map(crate::model::Concealed),
    };
    let path = format!("/api/v1/orgs/{org}/image-pull-secrets");
    let created: body::PullSecretItem = api.call(Method::POST, &path, Some(&new), None).await?;
    if ctx.json() {
        output::json(&created);
    } else {
        say!(
            "Created image pull secret {} for {} (user {})",
            created.name,
            created.registry,
            created.username
        );
    }
    Ok(())
}

async fn deploy(ctx: &Ctx, args: DeployArgs) -> Result<(), Failure> {
    use crate::deploy_spec::{merge_spec, parse_deploy_file, DeployFields};
    let file_text = match std::fs::read_to_string("pcc-deploy.toml") {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Failure::usage(format!("could not read pcc-deploy.toml: {e}"))),
    };
    let file = file_text.as_deref().map(parse_deploy_file).transpose()?;
    let name = args
        .name
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.agent_name.clone()))
        .ok_or_else(|| {
            Failure::usage(
                "name the deployment: cloakroom deploy NAME (or set agent_name in pcc-deploy.toml)",
            )
        })?;
    let name = ResourceName::parse_as("deployment name", &name)?;
    let fields = DeployFields {
        image: args.image,
        secret_set: args.secrets,
        image_credentials: args.credentials,
        region: args.region,
        min_agents: args.min_agents,
        max_agents: args.max_agents,
    };
    // Checked here with the server's rules; the server checks again and resolves references.
    let spec = merge_spec(name.as_str(), file, fields.clone())?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let path = format!("/api/v1/orgs/{org}/deployments/{name}");
    let existing: Option<body::DeploymentBody> = api.get_opt(&path).await?;
    note!(
        "{} deployment {name} in organization {org}:",
        if existing.is_some() { "Update" } else { "Create" }
    );
    note!("  image:       {}", spec.image);
    note!("  secrets:     {}", spec.secret_set.as_deref().unwrap_or("-"));
    note!("  credentials: {}", spec.pull_secret.as_deref().unwrap_or("-"));
    note!("  region:      {}", spec.region);
    note!("  agents:      {} to {}", spec.min_agents, spec.max_agents);
    confirm(&format!("Deploy {name}?"), ctx.globals.yes)?;
    let put = body::PutDeployment::new(file_text, fields);
    let result: body::Deployed = api.call(Method::PUT, &path, Some(&put), None).await?;
    if ctx.json() {
        output::json(&result);
        return Ok(());
    }
    say!(
        "{} deployment {name}: revision {}",
        if result.created { "Created" } else { "Updated" },
        result.deployment.revision
    );
    if let Some(token) = &result.runtime_token {
        say!("Runtime token (shown once; give it to the deployment as CLOAKROOM_RUNTIME_TOKEN):");
        say!("{token}");
    }
    Ok(())
}

async fn deployments_list(ctx: &Ctx) -> Result<(), Failure> {
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let list = body::DeploymentList {
        deployments: all_deployments(&api, &org).await?,
        next: None,
    };
    if ctx.json() {
        output::json(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .deployments
        .into_iter()
        .map(|d| {
            vec![
                d.name,
                d.image,
                d.secret_set.unwrap_or_else(|| "-".into()),
                d.revision.to_string(),
                d.status,
                d.deployed_at,
            ]
        })
        .collect();
    output::table(
        &["NAME", "IMAGE", "SECRETS", "REVISION", "STATUS", "DEPLOYED"],
        &rows,
    );
    Ok(())
}

async fn redeploy(ctx: &Ctx, name: &str) -> Result<(), Failure> {
    let name = ResourceName::parse_as("deployment name", name)?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let path = format!("/api/v1/orgs/{org}/deployments/{name}/redeploy");
    let result: body::Redeployed = api.call(Method::POST, &path, None::<&()>, None).await?;
    if ctx.json() {
        output::json(&result);
    } else {
        say!("Redeployed {name}: revision {}", result.revision);
    }
    Ok(())
}

async fn revisions(ctx: &Ctx, name: &str) -> Result<(), Failure> {
    let name = ResourceName::parse_as("deployment name", name)?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let list: body::RevisionList = api
        .get(&format!("/api/v1/orgs/{org}/deployments/{name}/revisions"))
        .await?;
    if ctx.json() {
        output::json(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list.revisions.iter().map(revision_row).collect();
    output::table(&["REVISION", "DEPLOYED", "BY", "IMAGE", "SECRETS", "KEYS"], &rows);
    Ok(())
}

fn revision_row(r: &body::RevisionItem) -> Vec<String> {
    let mut revision = r.revision.to_string();
    if r.current {
        revision.push_str(" (current)");
    } else if let Some(of) = r.rollback_of {
        revision.push_str(&format!(" (rollback to {of})"));
    }
    let set = match (&r.secret_set, r.set_version) {
        (Some(s), Some(v)) => format!("{s}@{v}"),
        (Some(s), None) => s.clone(),
        (None, _) => "-".into(),
    };
    vec![
        revision,
        r.at.clone(),
        r.actor.clone(),
        r.image.clone(),
        set,
        r.keys.to_string(),
    ]
}

async fn rollback(ctx: &Ctx, name: &str, revision: i64) -> Result<(), Failure> {
    let name = ResourceName::parse_as("deployment name", name)?;
    let api = ctx.api()?;
    let org = ctx.org(&api).await?;
    let path = format!("/api/v1/orgs/{org}/deployments/{name}");
    let list: body::RevisionList = api.get(&format!("{path}/revisions")).await?;
    let Some(target) = list.revisions.iter().find(|r| r.revision == revision) else {
        let kept: Vec<String> = list.revisions.iter().map(|r| r.revision.to_string()).collect();
        return Err(Failure::new(
            exit::NOT_FOUND,
            format!(
                "deployment {name} keeps no revision {revision} (kept: {})",
                kept.join(", ")
            ),
        ));
    };
    let current = list.revisions.iter().find(|r| r.current);
    note!("Deployment {name} in organization {org}:");
    for (label, r) in [("now", current), ("back to", Some(target))] {
        if let Some(r) = r {
            note!("  {label:<8} revision {}", revision_row(r).join("  "));
        }
    }
    confirm(
        &format!(
            "Roll {name} back to revision {revision} (as revision {})?",
            list.revision + 1
        ),
        ctx.globals.yes,
    )?;
    let done: body::RolledBack = api
        .call(
            Method::POST,
            &format!("{path}/rollback"),
            Some(&body::Rollback { revision }),
            None,
        )
        .await?;
    if ctx.json() {
        output::json(&done);
    } else {
        say!(
            "Rolled {name} back to revision {revision}: it runs as revision {} now",
            done.revision
        );
    }
    Ok(())
}

/// Fetches the deployment's environment and replaces this process with `command`, so
/// its exit status and signals are the command's own.
/// Variables that hold Cloakroom credentials: the command run never inherits them
/// (a set may still give it a variable of the same name on purpose).
const CREDENTIAL_VARS: &[&str] = &[
    "CLOAKROOM_TOKEN",
    "CLOAKROOM_RUNTIME_TOKEN",
    "CLOAKROOM_MASTER_KEY",
    "CLOAKROOM_MASTER_KEY_FILE",
];

async fn run_with_env(ctx: &Ctx, token_env: &str, command: Vec<OsString>) -> Result<(), Failure> {
    let server = ctx.server()?;
    let token = config::env_token(token_env).ok_or_else(|| {
        Failure::new(
            exit::AUTH,
            format!("{token_env} is not set: put the deployment's runtime token in it"),
        )
    })?;
    let api = Api::new(&server, &token)?;
    let body: body::RuntimeEnv = api.get("/api/v1/runtime/env").await?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Failure::usage("give the command to run after --"))?;
    let mut child = std::process::Command::new(program);
    child.args(args).env_remove(token_env);
    for var in CREDENTIAL_VARS {
        child.env_remove(var);
    }
    for (key, value) in &body.env {
        child.env(key, value);
    }
    let not_runnable = |e: std::io::Error| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        };
        Failure::new(code, format!("could not run {}: {e}", program.to_string_lossy()))
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(not_runnable(child.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = child.status().map_err(not_runnable)?;
        std::process::exit(status.code().unwrap_or(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pairs_split_at_the_first_equals_and_keep_values_exactly() {
        let pairs = pairs_from_args(&args(&[
            "A=a=b",
            "B= spaced  ",
            "C=\"quoted\"",
            "D=",
            "E=line1\nline2\n",
        ]))
        .expect("valid");
        let got: Vec<(&str, &str)> = pairs.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
        assert_eq!(
            got,
            [
                ("A", "a=b"),
                ("B", " spaced  "),
                ("C", "\"quoted\""),
                ("D", ""),
                ("E", "line1\nline2\n")
            ]
        );
    }

    #[test]
    fn bad_pairs_are_named_without_their_text() {
        let err = pairs_from_args(&args(&["A=1", "secret-looking-text"])).expect_err("refused");
        assert_eq!(err.code, exit::USAGE);
        assert!(err.message.contains("pair 2"), "{}", err.message);
        assert!(!err.message.contains("secret-looking"), "{}", err.message);
        let err = pairs_from_args(&args(&["BAD KEY=1"])).expect_err("refused");
        assert!(err.message.contains("BAD KEY"), "{}", err.message);
        let err = pairs_from_args(&args(&["A=1", "A=2"])).expect_err("refused");
        assert!(err.message.contains("\"A\""), "{}", err.message);
    }
}
