use clap::Parser;

fn main() {
    let cli = llmsweep::cli::Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        builder.worker_threads(threads.into());
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(llmsweep::app::EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(llmsweep::app::main(cli));
    // Don't wait for stray tasks (e.g. a stalled request) once results are written.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}
