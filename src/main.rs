//! The `roadledger` command: `serve` the web service, or manage the embedded database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use roadledger::embedded_pg::EmbeddedPg;
use roadledger::http::{self, AppState, Settings};
use roadledger::photos::{PhotoLimits, PhotoStore};
use roadledger::{cli, db, demo};
use sqlx::postgres::PgConnectOptions;

#[derive(Parser)]
#[command(name = "roadledger", version, about = "Survey rural road hazards and close them out (建账销号).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web service (API, photos, pages).
    Serve(ServeArgs),
    /// Start or stop the embedded PostgreSQL cluster by itself (for tests and psql).
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Organisations (towns, police, bureaus, responsible units, contractors).
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Personal API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Print the organisations with their ids and kinds.
    List(Database),
    /// Add an organisation.
    Add {
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        name: String,
        /// city_office, town, police_brigade, police_squadron, transport_bureau, highway_centre,
        /// education_bureau, village_committee, responsible_unit or contractor.
        #[arg(long)]
        kind: String,
        /// Admin code of the town, for town organisations.
        #[arg(long)]
        town: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (the first admin included). The password is read from standard input.
    Add {
        #[command(flatten)]
        db: Database,
        /// Sign-in name: lowercase letters, digits, '.', '-', '_'.
        #[arg(long)]
        name: String,
        /// Name shown in the pages and in the records, e.g. 张伟. Default: the sign-in name.
        #[arg(long)]
        display_name: Option<String>,
        /// A role; repeat for several: inspector, town_officer, unit_officer, dispatcher, reviewer, leader, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Organisation id or exact name (see `roadledger org list`).
        #[arg(long)]
        org: String,
        /// Read the password from standard input (it never goes on the command line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (it is shown only this once).
    Create {
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        user: String,
        /// What the token is for, e.g. 张伟的手机.
        #[arg(long, default_value = "command line")]
        name: String,
    },
}

/// Which database a command works on.
#[derive(Args)]
struct Database {
    #[command(flatten)]
    data: DataDir,
    /// PostgreSQL + PostGIS server to use. Without it, the embedded cluster under --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Create (first time) and start the cluster; prints its DATABASE_URL. It keeps running.
    Start(DataDir),
    /// Stop the cluster.
    Stop(DataDir),
}

#[derive(Args)]
struct DataDir {
    /// Directory for the embedded database and the photo store.
    #[arg(long, env = "ROADLEDGER_DATA_DIR", default_value = "./var")]
    data_dir: PathBuf,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROADLEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataDir,
    /// PostgreSQL + PostGIS server to use. Without it, a private cluster under --data-dir is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Directory of the photo store (originals and thumbnails). Default: DATA_DIR/photos.
    #[arg(long, env = "ROADLEDGER_PHOTO_DIR")]
    photo_dir: Option<PathBuf>,
    /// XYZ raster tile URL for the base map, e.g. https://tile.example.org/{z}/{x}/{y}.png. Without it the
    /// map draws towns and roads from the database only.
    #[arg(long, env = "ROADLEDGER_BASE_MAP_URL")]
    base_map_url: Option<String>,
    /// Directory of the web pages (with node_modules/ from `npm ci`).
    #[arg(long, env = "ROADLEDGER_WEB_DIR", default_value = "./web")]
    web_dir: PathBuf,
    /// County admin code that bare X/Y/C route codes belong to.
    #[arg(long, env = "ROADLEDGER_COUNTY", default_value = "320582")]
    county_admin_code: String,
    /// Largest photo accepted, bytes.
    #[arg(long, env = "ROADLEDGER_PHOTO_BYTES_MAX", default_value_t = 15 * 1024 * 1024)]
    photo_bytes_max: usize,
    /// Largest photo accepted, pixels (width × height).
    #[arg(long, env = "ROADLEDGER_PHOTO_PIXELS_MAX", default_value_t = 50_000_000)]
    photo_pixels_max: u64,
    /// Mark the session cookie Secure: set this when users reach the service over HTTPS.
    #[arg(long, env = "ROADLEDGER_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Hours without a request after which a browser session ends (7 days at most in any case).
    #[arg(long, env = "ROADLEDGER_SESSION_IDLE_HOURS", default_value_t = 12)]
    session_idle_hours: i64,
    /// How far (metres) from its site a look-back observation may be recorded: it is done on site.
    #[arg(long, env = "ROADLEDGER_LOOK_BACK_RADIUS_M", default_value_t = roadledger::domain::observation::LOOK_BACK_RADIUS_M)]
    look_back_radius_m: f64,
    /// Hours during which an inspector may correct their own observation.
    #[arg(long, env = "ROADLEDGER_EDIT_WINDOW_HOURS", default_value_t = 24)]
    edit_window_hours: i64,
    /// The Chinese font for close-out sheets (an OpenType .otf/.ttf or .ttc file); by default Debian's
    /// fonts-noto-cjk.
    #[arg(long, env = "ROADLEDGER_CJK_FONT")]
    cjk_font: Option<PathBuf>,
    /// Load the Zhangjiagang demo dataset (and one demo account per role) into an empty database.
    #[arg(long)]
    demo: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to standard error: standard output is for what commands print (a DATABASE_URL, a token).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "roadledger=info,tower_http=warn,sqlx=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Db { command: DbCommand::Start(d) } => {
            let pg = EmbeddedPg::start(&d.data_dir)?;
            println!("{}", pg.url());
            Ok(())
        }
        Command::Db { command: DbCommand::Stop(d) } => {
            let pg = EmbeddedPg::start(&d.data_dir)?;
            pg.stop()
        }
        Command::Org { command } => match command {
            OrgCommand::List(db) => with_database(db, |pool| Box::pin(cli::org_list(pool))).await,
            OrgCommand::Add { db, name, kind, town } => {
                with_database(db, move |pool| {
                    Box::pin(async move { cli::org_add(&pool, &name, &kind, town.as_deref()).await })
                })
                .await
            }
        },
        Command::User { command: UserCommand::Add { db, name, display_name, roles, org, password_stdin } } => {
            if !password_stdin {
                anyhow::bail!("give the password on standard input with --password-stdin (never on the command line)");
            }
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let new = cli::NewAccount {
                display_name: display_name.unwrap_or_else(|| name.clone()),
                name,
                roles,
                org,
                password,
            };
            with_database(db, move |pool| Box::pin(async move { cli::user_add(&pool, new).await })).await
        }
        Command::Token { command: TokenCommand::Create { db, user, name } } => {
            with_database(db, move |pool| Box::pin(async move { cli::token_create(&pool, &user, &name).await })).await
        }
    }
}

/// Runs a command against the database (migrated first); stops the embedded cluster afterwards if this
/// command was the one that started it.
async fn with_database<F>(db: Database, command: F) -> anyhow::Result<()>
where
    F: FnOnce(sqlx::PgPool) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>>>>,
{
    let (options, embedded) = match &db.database_url {
        Some(url) => (url.parse::<PgConnectOptions>().context("DATABASE_URL is not a PostgreSQL URL")?, None),
        None => {
            let pg = EmbeddedPg::start(&db.data.data_dir)?;
            (pg.connect_options(), Some(pg))
        }
    };
    let pool = db::connect(options).await.context("cannot connect to the database")?;
    db::MIGRATOR.run(&pool).await.context("cannot migrate the database")?;
    let result = command(pool.clone()).await;
    pool.close().await;
    if let Some(pg) = embedded.filter(|pg| pg.started_here) {
        pg.stop()?;
    }
    result
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (options, embedded) = match &args.database_url {
        Some(url) => (url.parse::<PgConnectOptions>().context("DATABASE_URL is not a PostgreSQL URL")?, None),
        None => {
            let data_dir = args.data.data_dir.clone();
            let pg = tokio::task::spawn_blocking(move || EmbeddedPg::start(&data_dir)).await??;
            tracing::info!(pg_data = %pg.pg_data().display(), "embedded PostgreSQL is running");
            (pg.connect_options(), Some(pg))
        }
    };
    let result = run(&args, options).await;
    if let Some(pg) = embedded.filter(|pg| pg.started_here) {
        tracing::info!("stopping the embedded PostgreSQL");
        if let Err(e) = tokio::task::spawn_blocking(move || pg.stop()).await? {
            tracing::error!(error = %e, "could not stop the embedded PostgreSQL");
        }
    }
    result
}

async fn run(args: &ServeArgs, options: PgConnectOptions) -> anyhow::Result<()> {
    let pool = db::connect(options).await.context("cannot connect to the database")?;
    db::MIGRATOR.run(&pool).await.context("cannot migrate the database")?;

    let photo_dir = args.photo_dir.clone().unwrap_or_else(|| args.data.data_dir.join("photos"));
    let photos = PhotoStore::local(&photo_dir)
        .with_context(|| format!("cannot open the photo store {}", photo_dir.display()))?;
    if args.demo {
        demo::load_if_empty(&pool, &photos).await.context("cannot load the demo dataset")?;
    }
    let settings = Settings {
        photo_limits: PhotoLimits { bytes_max: args.photo_bytes_max, pixels_max: args.photo_pixels_max },
        county_admin_code: args.county_admin_code.clone(),
        base_map_url: args.base_map_url.clone(),
        web_dir: args.web_dir.clone(),
        cjk_font: args.cjk_font.clone(),
        cookie_secure: args.secure_cookies,
        session_idle: chrono::Duration::hours(args.session_idle_hours.clamp(1, 24 * 7)),
        observation_edit_window: chrono::Duration::hours(args.edit_window_hours.clamp(0, 24 * 30)),
        look_back_radius_m: args.look_back_radius_m.clamp(10.0, 5_000.0),
        ..Settings::default()
    };
    if !settings.web_dir.join("node_modules/maplibre-gl").exists() {
        tracing::warn!(web_dir = %settings.web_dir.display(), "maplibre-gl is not installed: run `npm ci` in web/");
    }
    let app = http::router(AppState { pool: pool.clone(), photos, settings: Arc::new(settings) });

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!("RoadLedger is serving on http://{}/", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    pool.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
