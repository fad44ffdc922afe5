#[tokio::main]
async fn main() -> std::process::ExitCode {
    cloakroom::server::cli::run().await
}
