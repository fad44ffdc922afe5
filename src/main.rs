#[tokio::main]
async fn main() -> std::process::ExitCode {
    cloakroom::cli::run().await
}
