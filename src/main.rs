use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    postbote::cli::main(postbote::cli::Cli::parse()).await
}
