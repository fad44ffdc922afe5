//! Server functions for secret sets.

use crate::error::AppError;
use crate::model::{Concealed, SetDetail, SetPage, WriteOutcome};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{finish, set_url, write_notice};

/// One page of the organization's secret sets, by name: those after `after` whose name
/// contains `q`; `limit` rows (a dashboard page when `None`).
#[server(endpoint = "list_set_page")]
pub async fn list_set_page(
    org: String,
    q: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
) -> Result<SetPage, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    let query = crate::model::ListQuery {
        q,
        after,
        // The store clamps it to `1..=MAX_PAGE_SIZE`.
        limit: limit.unwrap_or(crate::model::PAGE_SIZE),
    };
    crate::domain::secrets::page(&state, &who, &query).await
}

/// One set with its keys and fingerprints (never values).
#[server(endpoint = "get_set")]
pub async fn get_set(org: String, set: String) -> Result<SetDetail, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::secrets::detail(&state, &who, &set).await
}

/// Creates an empty set.
#[server(endpoint = "create_set")]
pub async fn create_set(org: String, name: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let set = crate::validate::ResourceName::parse(name.trim())?;
        crate::domain::secrets::create(&state, &who, &set).await?;
        Ok(WriteOutcome {
            set: set.to_string(),
            created: true,
            redirect: set_url(&org, set.as_str()),
            notice: format!("Created secret set \"{set}\"."),
            ..Default::default()
        })
    }
    .await;
    finish(result, &super::org_url(&org, "/secrets"))
}

/// One row of the key/value form. `Debug` never shows the value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RowInput {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: Concealed,
}

/// Adds or updates the given rows in a set, all or nothing. Rows with neither key nor
/// value are ignored.
#[server(endpoint = "save_rows")]
pub async fn save_rows(
    org: String,
    set: String,
    #[server(default)] revision: Option<i64>,
    #[server(default)] rows: Vec<RowInput>,
) -> Result<WriteOutcome, AppError> {
    let back = set_url(&org, &set);
    let result = async {
        // Who may write comes before any look at the input.
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::secrets::may_change(&who)?;
        let rows: Vec<&RowInput> = rows
            .iter()
            .filter(|r| !(r.key.is_empty() && r.value.0.is_empty()))
            .collect();
        let pairs =
            crate::validate::validate_pairs(rows.iter().map(|r| (r.key.as_str(), r.value.0.as_str())))?;
        write_pairs(&state, &who, &set, pairs, revision).await
    }
    .await;
    finish(result, &back)
}

/// Parses pasted `KEY=value` text and writes every pair, all or nothing.
#[server(endpoint = "save_paste")]
pub async fn save_paste(
    org: String,
    set: String,
    #[server(default)] revision: Option<i64>,
    text: Concealed,
) -> Result<WriteOutcome, AppError> {
    let back = set_url(&org, &set);
    let result = async {
        // Who may write comes before any look at the input.
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::secrets::may_change(&who)?;
        // Browsers submit textarea line breaks as CRLF; the user typed LF.
        let pairs = crate::domain::secrets::off_workers(move || {
            Ok(crate::validate::parse_pairs(&text.0.replace("\r\n", "\n"))?)
        })
        .await?;
        write_pairs(&state, &who, &set, pairs, revision).await
    }
    .await;
    finish(result, &back)
}

#[cfg(feature = "ssr")]
/// Writes validated pairs, demanding the revision the page was loaded at (if it says).
async fn write_pairs(
    state: &crate::domain::state::AppState,
    who: &crate::domain::principal::Principal,
    set: &str,
    pairs: Vec<crate::validate::Pair>,
    revision: Option<i64>,
) -> Result<WriteOutcome, AppError> {
    let name = crate::validate::ResourceName::parse(set)?;
    let r = crate::domain::secrets::write(state, who, &name, pairs, revision).await?;
    let org = &who.org.name;
    Ok(WriteOutcome {
        redirect: set_url(org, set),
        notice: write_notice(set, &r.added, &r.updated),
        set: set.to_owned(),
        created: r.created,
        added: r.added,
        updated: r.updated,
    })
}

/// Removes one key from a set.
#[server(endpoint = "unset_key")]
pub async fn unset_key(org: String, set: String, key: String) -> Result<WriteOutcome, AppError> {
    let back = set_url(&org, &set);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::secrets::unset(&state, &who, &set, &key, None).await?;
        Ok(WriteOutcome {
            redirect: set_url(&org, &set),
            notice: format!("Unset {key} from \"{set}\"."),
            set: set.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// Marks a set protected (`protected` = "true") or not; admins only.
#[server(endpoint = "protect_set")]
pub async fn protect_set(org: String, set: String, protected: String) -> Result<WriteOutcome, AppError> {
    let back = set_url(&org, &set);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let protected = protected == "true";
        crate::domain::secrets::protect(&state, &who, &set, protected).await?;
        Ok(WriteOutcome {
            redirect: set_url(&org, &set),
            notice: if protected {
                format!("\"{set}\" is protected: only admins may deploy it now.")
            } else {
                format!("\"{set}\" is no longer protected.")
            },
            set: set.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// Deletes a whole set. `confirm` must repeat the set's name.
#[server(endpoint = "delete_set")]
pub async fn delete_set(
    org: String,
    set: String,
    #[server(default)] confirm: String,
) -> Result<WriteOutcome, AppError> {
    let back = set_url(&org, &set);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        if confirm.trim() != set {
            return Err(AppError::validation(crate::validate::FieldError {
                field: "confirm".into(),
                message: format!("type the set name \"{set}\" to confirm deleting it"),
            }));
        }
        crate::domain::secrets::delete(&state, &who, &set).await?;
        Ok(WriteOutcome {
            redirect: super::org_url(&org, "/secrets"),
            notice: format!("Deleted secret set \"{set}\"."),
            set: set.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}
