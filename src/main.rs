use clap::Parser;
use tickstock::app::Application;
use tickstock::cli::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A missing .env is normal; a malformed one is reported and stops start-up.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: cannot read .env: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    if let Err(message) = tickstock::telemetry::init() {
        eprintln!("error: {message}");
        return std::process::ExitCode::FAILURE;
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: tickstock::config::Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    tracing::info!("TickStock listening on {}", app.local_addr());
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("TickStock stopped");
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}
