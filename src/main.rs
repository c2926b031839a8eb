use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use secrecy::ExposeSecret;
use tickstock::app::Application;
use tickstock::bus::Bus;
use tickstock::cli::{Cli, Command, PublishArgs, SimulateArgs, VerifyArgs, progress};
use tickstock::config::Config;
use tickstock::conformance;
use tickstock::conformance::report::{Origin, Report};
use tickstock::conformance::tables::Tables;
use tickstock::conformance::tally::Tally;
use tickstock::events::Channel;
use tickstock::sim;
use tokio_util::sync::CancellationToken;

/// `tickstock verify`'s exit status when some channel carried nothing.
const EXIT_CHANNEL_SILENT: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported and stops start-up.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: cannot read .env: {error}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // verify logs nothing: its report (and what went wrong on the way) is its whole output.
    if !matches!(command, Command::Verify(_))
        && let Err(message) = tickstock::telemetry::init(&cli.config.telemetry)
    {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    let succeeded = |result: anyhow::Result<()>| result.map(|()| ExitCode::SUCCESS);
    let result = match command {
        Command::Serve => succeeded(serve(cli.config).await),
        Command::Simulate(args) => succeeded(simulate(cli.config, args).await),
        Command::Publish(args) => succeeded(publish(cli.config, args).await),
        Command::Verify(args) => verify(cli.config, args).await,
        Command::User(command) => succeeded(
            tickstock::accounts::commands::user(&cli.config.database, &cli.config.bus, command)
                .await,
        ),
        Command::Token(command) => succeeded(
            tickstock::accounts::commands::token(&cli.config.database, &cli.config.bus, command)
                .await,
        ),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
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

/// The Redis a command that talks to TickStockPL's Redis needs; `purpose`
/// says what for (`publishes to Redis`).
fn required_redis(config: &Config, command: &str, purpose: &str) -> anyhow::Result<Bus> {
    if config.bus.redis_url.is_none() {
        anyhow::bail!("REDIS_URL must be set: `tickstock {command}` {purpose}");
    }
    config.bus.open().context("REDIS_URL")
}

async fn simulate(config: Config, args: SimulateArgs) -> anyhow::Result<()> {
    let bus = required_redis(&config, "simulate", "publishes to Redis")?;
    let plan = args.plan().map_err(anyhow::Error::msg)?;
    let settings = config.simulator(plan, sim::SIMULATE_BAR);
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
    let bus = required_redis(&config, "publish", "publishes to Redis")?;
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

/// Listens for the window (Ctrl-C reports early), checks the tables, prints
/// the report; exits 3 when some channel carried nothing.
async fn verify(config: Config, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let bus = required_redis(&config, "verify", "listens to TickStockPL on Redis")?;
    let stop = CancellationToken::new();
    let _unsubscribe = stop.clone().drop_guard();
    let mut subscription = conformance::subscribe(&bus, stop).await?;
    eprintln!(
        "Listening to the 8 TickStockPL channels for {} s (Ctrl-C reports early)...",
        args.minutes.as_secs_f64()
    );
    let tally = Tally::new(Utc::now());
    let counted = || {
        Channel::ALL
            .map(|channel| tally.messages(channel))
            .iter()
            .sum()
    };
    let window = async {
        tokio::select! {
            _ = tokio::time::sleep(args.minutes) => {}
            _ = shutdown_signal() => {}
            _ = progress::show(args.minutes, counted) => {}
        }
    };
    conformance::tally_until(&mut subscription.messages, &tally, window).await;
    let tables = match &config.database.database_url {
        Some(url) => Tables::check_url(url.expose_secret()).await,
        None => Tables::not_checked("DATABASE_URL is not set"),
    };
    let reconnects = subscription.link.reconnects();
    let report = Report::build(Origin::Listened, &tally, tables, reconnects, Utc::now());
    println!("{}", report.render(args.format));
    Ok(if report.any_channel_silent() {
        ExitCode::from(EXIT_CHANNEL_SILENT)
    } else {
        ExitCode::SUCCESS
    })
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
