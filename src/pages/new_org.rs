//! Creating an organization: anyone signed in becomes the owner of the one they create
//! (unless the instance keeps that to its first owner).

use super::route_org;
use crate::api::CreateOrg;
use crate::components::{Flash, Layout};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

#[component]
pub fn NewOrgPage() -> impl IntoView {
    let org = route_org();
    view! {
        <Title text="New organization · Cloakroom" />
        <Layout>
            <h1>"New organization"</h1>
            <Flash />
            <section class="card">
                <p class="hint">
                    "You become its owner. Secrets, deployments and members of each organization are kept apart."
                </p>
                <form method="post" action=CreateOrg::PATH>
                    <input type="hidden" name="org" value=org />
                    <label for="new-org-name">"Organization name"</label>
                    <input
                        id="new-org-name"
                        name="name"
                        required
                        maxlength="63"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="e.g. acme"
                    />
                    <p class="hint">{crate::validate::NAME_RULE} " Names ending in \"-personal\" are kept for personal workspaces."</p>
                    <button type="submit">"Create organization"</button>
                </form>
            </section>
        </Layout>
    }
}
