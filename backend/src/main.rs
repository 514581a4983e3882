//! The `yishi` command.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use tokio::net::TcpListener;

use yishi::config::Settings;
use yishi::domain::{accounts, authz::Role, demo, divisions::import, roles};

/// mimalloc: results and GraphQL responses allocate many small objects per
/// request, where the system allocator spent a quarter of the time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "yishi",
    version,
    about = "Yishi (议事): online community consultation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, seed the demo data on first start, and serve HTTP.
    Serve,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Import administrative divisions from `code,name,level,parent_code` CSV
    /// (plain or .gz). Idempotent; a file with a bad row imports nothing.
    ImportDivisions {
        /// The CSV file, e.g. ../shared/data/china-divisions-2023.csv.gz
        file: PathBuf,
    },
    /// Create an administrator account bound to a division.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// The division administered (short or 12-digit code); defaults to
        /// the only province when just one is imported.
        #[arg(long)]
        division: Option<String>,
        #[arg(long, default_value = "管理员")]
        name: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Write the consultation report of a topic (results by division,
    /// outcome and versions, explanations, progress) to standard output.
    Report {
        /// The topic id.
        topic: i64,
        #[arg(long, value_parser = ["csv", "html"], default_value = "html")]
        format: String,
        /// zh-CN (default) or en.
        #[arg(long, default_value = "zh-CN")]
        locale: String,
    },
    /// Copy the SQLite database consistently while the server runs.
    Backup {
        /// The new file to write, e.g. backups/yishi-2026-11-25.db
        file: PathBuf,
    },
    /// Verify the result counters against the opinions; exits non-zero on
    /// any difference.
    Check,
    /// Recompute the hash chain of a topic's public procedure record (or of
    /// every topic's with --all); exits non-zero when an entry was edited,
    /// inserted or deleted after the fact.
    VerifyRecord {
        /// The topic id.
        #[arg(required_unless_present = "all")]
        topic: Option<i64>,
        #[arg(long, conflicts_with = "topic")]
        all: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Schema = cli.command {
        print!("{}", yishi::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings.log);
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// SeaORM's trace spans carry every statement's bound values (password
/// hashes, token hashes, email addresses); whatever `YISHI_LOG` asks for,
/// they stay off. sqlx still logs each statement's text at debug.
const NO_STATEMENT_VALUES: &str = "sea_orm=debug";

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::new(filter).add_directive(
        NO_STATEMENT_VALUES
            .parse()
            .expect("a valid logging directive"),
    );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind;
    let demo_data = settings.demo_data;
    let services = yishi::init_services(settings).await?;
    // A backup copies the database as it is; everything else wants the
    // current schema.
    if !matches!(command, Command::Backup { .. }) {
        services.db.migrate().await?;
    }
    match command {
        Command::Schema => unreachable!("handled before configuration"),
        Command::Migrate => {
            println!("database is up to date");
        }
        Command::Serve => {
            if demo_data {
                seed_demo(&services).await?;
            }
            let listener = TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind} (YISHI_BIND)"))?;
            tracing::info!(
                "Yishi serving on http://{bind} ({})",
                services.settings.public_url
            );
            tokio::spawn(yishi::domain::topics::scheduler_loop(services.clone()));
            tokio::spawn(yishi::domain::topics::notices::run_loop(services.clone()));
            let mail = yishi::mail::worker::Worker::from_settings(&services)?;
            // One shutdown signal for every listener.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            let until_stopped = move || {
                let mut stopped = stopped.clone();
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                }
            };
            let settings = services.settings.clone();
            if let Some(metrics_bind) = settings.metrics_bind {
                let metrics = TcpListener::bind(metrics_bind).await.with_context(|| {
                    format!("cannot listen on {metrics_bind} (YISHI_METRICS_BIND)")
                })?;
                tracing::info!("metrics on http://{metrics_bind}/metrics");
                let router = yishi::http::metrics::router(settings.metrics_token.as_ref());
                let settings = settings.clone();
                let stopped = until_stopped();
                tokio::spawn(async move {
                    if let Err(e) = yishi::server::serve(metrics, router, &settings, stopped).await
                    {
                        tracing::error!(error = %e, "the metrics listener stopped");
                    }
                });
            }
            yishi::server::serve(
                listener,
                yishi::build_app(services.clone()),
                &settings,
                until_stopped(),
            )
            .await?;
            if let Some(mail) = mail {
                mail.shutdown().await;
            }
            services.db.close().await;
        }
        Command::Report {
            topic,
            format,
            locale,
        } => {
            let scope = yishi::domain::topics::get(services.db.reader(), topic)
                .await
                .map_err(domain_error)?
                .scope_code;
            let actor = yishi::domain::authz::Actor::operator(&scope);
            let report = yishi::domain::reports::build(&services, &actor, topic, None)
                .await
                .map_err(domain_error)?;
            let bytes = if format == "csv" {
                yishi::report::to_csv(&report, &locale)?
            } else {
                yishi::report::to_html(&report, &locale)?.into_bytes()
            };
            std::io::Write::write_all(&mut std::io::stdout(), &bytes)?;
        }
        Command::Backup { file } => {
            services.db.backup(&file).await?;
            println!("backed up to {}", file.display());
        }
        Command::Check => {
            let mismatches = yishi::domain::opinions::counter_mismatches(services.db.reader())
                .await
                .map_err(domain_error)?;
            if mismatches.is_empty() {
                println!("counters match the opinions");
            } else {
                for (topic, village, choice, counter, recount) in &mismatches {
                    println!("topic {topic} village {village} {choice}: counter {counter}, opinions {recount}");
                }
                anyhow::bail!("{} counter(s) differ from the opinions", mismatches.len());
            }
        }
        Command::VerifyRecord { topic, all } => {
            let db = services.db.reader();
            let ids = match topic {
                Some(id) => vec![id],
                None if all => yishi::domain::record::topics_with_record(db)
                    .await
                    .map_err(domain_error)?,
                None => Vec::new(),
            };
            let mut broken = 0;
            for id in ids {
                let v = yishi::domain::record::verify(db, id)
                    .await
                    .map_err(domain_error)?;
                match &v.broken {
                    None => println!("topic {id}: {} entries intact, head {}", v.entries, v.head),
                    Some((seq, problem)) => {
                        broken += 1;
                        println!("topic {id}: BROKEN at entry {seq}: {problem}");
                    }
                }
            }
            if broken > 0 {
                anyhow::bail!("{broken} record(s) do not verify");
            }
        }
        Command::ImportDivisions { file } => {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec})",
                )
                .expect("static template"),
            );
            bar.set_message(format!("reading {}", file.display()));
            let started = std::time::Instant::now();
            let report = import::import_file(&services.db, &file, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await;
            bar.finish_and_clear();
            let report = report?;
            println!(
                "imported {} rows in {:.1} s: {} new, {} updated, {} unchanged",
                report.rows,
                started.elapsed().as_secs_f64(),
                report.inserted,
                report.updated,
                report.unchanged
            );
        }
        Command::CreateAdmin {
            email,
            division,
            name,
            password_stdin,
        } => {
            let division = match division {
                Some(d) => d,
                None => only_province(&services).await?,
            };
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (demo::generate_password(), true)
            };
            let user = accounts::create_verified_user(
                &services,
                services.db.writer(),
                &email,
                &SecretString::from(password.clone()),
                &name,
            )
            .await
            .map_err(domain_error)?;
            roles::bootstrap(&services, user.id, Role::Admin, &division)
                .await
                .map_err(domain_error)?;
            println!("created admin {} for division {division}", user.email);
            if generated {
                println!("password (shown once): {password}");
            }
        }
    }
    Ok(())
}

async fn seed_demo(services: &yishi::domain::Services) -> anyhow::Result<()> {
    if demo::ensure_divisions(services).await? {
        println!("imported the Gansu divisions (2023 codes)");
    }
    let accounts = demo::ensure_accounts(services)
        .await
        .map_err(domain_error)?;
    if !accounts.is_empty() {
        println!(
            "\nDemo accounts (passwords are shown this once; sign in at {}):",
            services.settings.public_url
        );
        for a in &accounts {
            println!("  {:<28} {:<16} {}", a.email, a.password, a.what);
        }
        println!();
    }
    Ok(())
}

async fn only_province(services: &yishi::domain::Services) -> anyhow::Result<String> {
    let provinces = yishi::domain::divisions::list(
        services.db.reader(),
        &yishi::domain::divisions::DivisionFilter::default(),
        2,
        None,
    )
    .await
    .map_err(domain_error)?;
    match provinces.as_slice() {
        [one] => Ok(one.code.clone()),
        [] => anyhow::bail!("no divisions imported yet: run `yishi import-divisions FILE` first"),
        _ => anyhow::bail!("several provinces are imported: choose one with --division"),
    }
}

fn domain_error(err: yishi::error::Error) -> anyhow::Error {
    match err {
        yishi::error::Error::Internal(cause) => cause,
        other => anyhow::anyhow!("{}", other.public_message()),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
