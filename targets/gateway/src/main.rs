use std::process::ExitCode;
use std::time::Duration;

use gateway::config::Config;

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    // Before any thread or allocation that matters (see memory::tune_malloc).
    let threshold = gateway::memory::tune_malloc();
    eprintln!(
        "gateway: config {} malloc_mmap_threshold={}",
        config.summary(),
        threshold.map_or_else(|| "unchanged".to_string(), |t| t.to_string())
    );

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("gateway-worker");
    if let Some(workers) = config.workers {
        builder.worker_threads(workers);
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gateway: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(gateway::run(config));
    // Drops any task still running after the grace period, with its state.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway: {e:#}");
            ExitCode::from(1)
        }
    }
}
