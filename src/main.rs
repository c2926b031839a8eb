use anyhow::Context;
use clap::Parser;
use tickstock::app::Application;
use tickstock::bus::Bus;
use tickstock::cli::{Cli, Command, PublishArgs, SimulateArgs};
use tickstock::config::Config;
use tickstock::sim;
use tokio_util::sync::CancellationToken;

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
        Command::Simulate(args) => simulate(cli.config, args).await,
        Command::Publish(args) => publish(cli.config, args).await,
        Command::User(command) => tickstock::accounts::commands::user(cli.config, command).await,
        Command::Token(command) => tickstock::accounts::commands::token(cli.config, command).await,
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

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    tracing::info!("TickStock listening on {}", app.local_addr());
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("TickStock stopped");
    Ok(())
}

/// The Redis URL a command that talks to TickStockPL's Redis needs.
fn required_redis_url(config: &Config, command: &str) -> anyhow::Result<String> {
    config.redis_url.clone().ok_or_else(|| {
        anyhow::anyhow!("REDIS_URL must be set: `tickstock {command}` publishes to Redis")
    })
}

async fn simulate(config: Config, args: SimulateArgs) -> anyhow::Result<()> {
    let url = required_redis_url(&config, "simulate")?;
    let plan = args.plan().map_err(anyhow::Error::msg)?;
    let bus = Bus::new(Some(&url)).context("REDIS_URL")?;
    let settings = sim::Settings::from_config(&config, plan, sim::SIMULATE_BAR);
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopping.cancel();
    });
    let summary = sim::run(settings, bus, stop).await;
    tracing::info!(
        "TickStockPL simulator done: {} messages published, {} dropped, {} failed",
        summary.published,
        summary.dropped,
        summary.publish_failures
    );
    match summary.final_status {
        sim::messages::FinalStatus::Failed => anyhow::bail!("the market tick subscription ended"),
        _ if summary.publish_failures > 0 => {
            anyhow::bail!(
                "{} messages could not be published to REDIS_URL",
                summary.publish_failures
            )
        }
        _ => Ok(()),
    }
}

async fn publish(config: Config, args: PublishArgs) -> anyhow::Result<()> {
    let url = required_redis_url(&config, "publish")?;
    let bus = Bus::new(Some(&url)).context("REDIS_URL")?;
    let report = sim::publish::publish_files(&bus, &args.files, |skipped| {
        eprintln!("{skipped}");
    })
    .await
    .context("publishing to REDIS_URL")?;
    println!("Published {} messages", report.published);
    if !report.skipped.is_empty() {
        anyhow::bail!("{} lines or files skipped", report.skipped.len());
    }
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
