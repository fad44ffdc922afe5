//! The signed-in user's account: change the password (which ends every other session).

use super::route_org;
use crate::api::ChangePassword;
use crate::components::{Flash, Layout};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

#[component]
pub fn AccountPage() -> impl IntoView {
    let org = route_org();
    view! {
        <Title text="Your account · Cloakroom" />
        <Layout>
            <h1>"Your account"</h1>
            <Flash />
            <section class="card">
                <h2>"Change password"</h2>
                <p class="hint">"Changing it signs you out everywhere else."</p>
                <form method="post" action=ChangePassword::PATH>
                    <input type="hidden" name="org" value=org />
                    <label for="current-password">"Current password"</label>
                    <input id="current-password" name="current" type="password" required autocomplete="current-password" />
                    <label for="new-password">"New password (at least 10 characters)"</label>
                    <input
                        id="new-password"
                        name="new"
                        type="password"
                        required
                        minlength="10"
                        autocomplete="new-password"
                    />
                    <button type="submit">"Change password"</button>
                </form>
            </section>
        </Layout>
    }
}
