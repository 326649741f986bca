use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    postbote::memory::limit_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(postbote::cli::main(postbote::cli::Cli::parse()));
    // NOTE: dropping the runtime would wait for every blocking task, such as
    // a document analysis abandoned at shutdown (up to 60 s); the shutdown
    // budget does not allow that. Its message is processed after the restart.
    runtime.shutdown_timeout(postbote::startup::EXIT_GRACE);
    code
}
