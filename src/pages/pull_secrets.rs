use crate::api::{
    deployment_url, list_deployments, list_pull_secrets, with_param, DeletePullSecret, PULL_SECRETS_URL,
};
use crate::components::{ConfirmButton, Flash, Layout, PullSecretForm};
use crate::model::format_time;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn PullSecretsPage() -> impl IntoView {
    let replace = use_query_map().with_untracked(|q| q.get("replace"));
    view! {
            <Title text="Image pull secrets · Cloakroom" />
            <Layout>
                <h1>"Image pull secrets"</h1>
                <p class="hint">
                    "Credentials for private container registries. They are encrypted at rest and cannot be edited: "
                    "to change one, use Replace, which deletes it and creates it again in one step. "
                    "The Kubernetes Secret is available from the REST API ("
                    <code>"GET /api/v1/orgs/ORG/image-pull-secrets/NAME/dockerconfigjson"</code>")."
                </p>
                <Flash />
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {Suspend::new(async move {
                        match list_pull_secrets().await {
                            Ok(list) => {
                            let deployments = list_deployments().await.unwrap_or_default();
                            let used_by = move |name: &str| -> Vec<String> {
                                deployments
                                    .iter()
                                    .filter(|d| d.spec.pull_secret.as_deref() == Some(name))
                                    .map(|d| d.spec.name.clone())
                                    .collect()
                            };
                                let current = replace
                                    .as_ref()
                                    .and_then(|r| list.iter().find(|p| &p.name == r).cloned());
                                let table = if list.is_empty() {
                                    view! { <p class="empty">"No image pull secrets yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="list" aria-label="Image pull secrets">
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Name"</th>
                                                    <th scope="col">"Registry"</th>
                                                    <th scope="col">"Username"</th>
                                                    <th scope="col">"Created"</th>
                                                <th scope="col">"Used by"</th>
                                                    <th scope="col">
                                                        <span class="visually-hidden">"Actions"</span>
                                                    </th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {list
                                                    .into_iter()
                                                    .map(|p| {
                                                        view! {
                                                            <tr>
                                                                <td>
                                                                    <code>{p.name.clone()}</code>
                                                                </td>
                                                                <td>{p.registry.clone()}</td>
                                                                <td>{p.username.clone()}</td>
                                                                <td>{format_time(p.created_at)}</td>
                                                            <td>
                                                                {used_by(&p.name)
                                                                    .into_iter()
                                                                    .map(|d| {
                                                                        view! {
                                                                            <a href=deployment_url(&d)>{d.clone()}</a>
                                                                            " "
                                                                        }
                                                                    })
                                                                    .collect_view()}
                                                            </td>
                                                                <td>
    <div class="row-actions">
                                                                    <a
                                                                        href=format!(
                                                                            "{}#new",
                                                                            with_param(PULL_SECRETS_URL, "replace", &p.name),
                                                                        )
                                                                        aria-label=format!("Replace {}", p.name)
                                                                    >
                                                                        "Replace"
                                                                    </a>
                                                                    <ConfirmButton
                                                                        action=DeletePullSecret::PATH.to_owned()
                                                                        fields=vec![("name".to_owned(), p.name.clone())]
                                                                        text="Delete".to_owned()
                                                                        label=format!("Delete {}", p.name)
                                                                    />
                                                                </div>
    </td>
                                                            </tr>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </tbody>
                                        </table>
                                    }
                                        .into_any()
                                };
                                let form = match current {
                                    Some(p) => {
                                        view! {
                                            <section class="card" id="new">
                                                <h2>{format!("Replace \"{}\"", p.name)}</h2>
                                                <p class="hint">
                                                    "Enter the new credentials. The old ones are deleted when you save; "
                                                    <a href=PULL_SECRETS_URL>"cancel"</a>
                                                    " to keep them."
                                                </p>
                                                <PullSecretForm
                                                    replace=Some(p.name)
                                                    registry=p.registry
                                                    username=p.username
                                                />
                                            </section>
                                        }
                                            .into_any()
                                    }
                                    None => {
                                        view! {
                                            <section class="card" id="new">
                                                <h2>"New image pull secret"</h2>
                                                <PullSecretForm
                                                    replace=None
                                                    registry=String::new()
                                                    username=String::new()
                                                />
                                            </section>
                                        }
                                            .into_any()
                                    }
                                };
                                view! {
                                    {table}
                                    {form}
                                }
                                    .into_any()
                            }
                            Err(e) => view! { <p class="problems">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </Layout>
        }
}
