use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = zumodra::cli::Cli::parse();
    if let Err(e) = zumodra::cli::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
