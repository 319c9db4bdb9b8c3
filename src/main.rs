//! The `roadledger` command: `serve` the web service, manage the embedded database, provision, import, back up
//! and restore.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use roadledger::embedded_pg::EmbeddedPg;
use roadledger::http::limits::{UploadLimits, default_upload_buffer_bytes};
use roadledger::http::{self, AppState, ServeLimits, Settings};
use roadledger::import::fields::FieldMapping;
use roadledger::import::{ImportKind, OptionsInput};
use roadledger::photos::{PhotoLimits, PhotoStore};
use roadledger::{cli, db, demo};
use sqlx::postgres::PgConnectOptions;

#[derive(Parser)]
#[command(name = "roadledger", version, about = "Survey rural road hazards and close them out (建账销号).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written to standard error: `text` for people, `json` (one object a line, with the
    /// request's span — its `request_id`, method and route — as fields) for a log collector.
    #[arg(long, global = true, env = "ROADLEDGER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

// Parsed once at start-up and moved into the command it names: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
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
    /// Load a county's own places from its files: towns, roads, chainage breaks, organisations. Works while
    /// the server runs. Nothing is half-imported: a file with any problem changes nothing.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Back up the database (one pg_dump snapshot) and every photo into DIR, new or empty, with a manifest of
    /// SHA-256 hashes. Works while the server runs.
    Backup(BackupArgs),
    /// Restore a backup into an empty database (a new --data-dir, or an empty DATABASE_URL database) and an empty
    /// photo store, after checking every file against the manifest; then migrate it to this release.
    Restore(BackupArgs),
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    db: Database,
    #[command(flatten)]
    photos: PhotoStoreArgs,
    /// The backup directory.
    dir: PathBuf,
}

/// Where the photos (originals and thumbnails) are kept: one of the two, the same for serve, backup and restore.
#[derive(Args)]
struct PhotoStoreArgs {
    /// Directory of the photo store. Default: DATA_DIR/photos (unless --photo-store is given).
    #[arg(long, env = "ROADLEDGER_PHOTO_DIR")]
    photo_dir: Option<PathBuf>,
    /// S3-compatible object storage for the photos instead of a directory: s3://BUCKET or s3://BUCKET/PREFIX.
    /// Keys, region and endpoint come from the AWS_* variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_REGION, AWS_ENDPOINT_URL for MinIO, Ceph or OSS, AWS_ALLOW_HTTP=true for an endpoint without TLS).
    #[arg(long, env = "ROADLEDGER_PHOTO_STORE", value_name = "s3://BUCKET/PREFIX")]
    photo_store: Option<roadledger::photos::S3Location>,
}

impl PhotoStoreArgs {
    fn open(&self, data_dir: &std::path::Path) -> anyhow::Result<PhotoStore> {
        PhotoStore::open(self.photo_dir.as_deref(), self.photo_store.as_ref(), || data_dir.join("photos"))
    }
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Town boundaries (polygons) with admin code and name: GeoJSON, Shapefile (folder, .shp or .zip) or GeoPackage.
    Towns(ImportArgs),
    /// Roads (lines) with route code, name, stakes: GeoJSON, Shapefile, GeoPackage or OpenStreetMap PBF.
    Roads(ImportArgs),
    /// Organisations from a CSV with columns name, kind, town (admin code or name).
    Organisations(ImportArgs),
    /// Chainage breaks (断链) from a CSV with columns route_code, admin_code, stake_back, stake_ahead.
    ChainageBreaks(ImportArgs),
    /// Crash records from the police crash database's exports: CSV (UTF-8 or GBK), XLSX or GeoJSON. Rows that
    /// cannot be placed are reported with their row numbers and the rest imported; personal columns are dropped.
    Crashes(CrashImportArgs),
    /// 12345 hotline tickets from the platform's CSV export (UTF-8 or GBK), keyed by the ticket number: a
    /// re-import stores nothing new. Rows that cannot be read are reported with their row numbers.
    Hotline(HotlineImportArgs),
}

#[derive(Args)]
struct HotlineImportArgs {
    #[command(flatten)]
    db: Database,
    /// The export: a .csv file.
    file: PathBuf,
    /// The coordinates' system: wgs84 (default), gcj02 (AMap, Tencent) or bd09 (Baidu).
    #[arg(long)]
    crs: Option<String>,
    /// The CSV's encoding: gbk, gb18030, utf-8 (default: UTF-8 if valid, else GB18030).
    #[arg(long)]
    encoding: Option<String>,
    /// Largest file read, bytes.
    #[arg(long, env = "ROADLEDGER_HOTLINE_IMPORT_BYTES_MAX", default_value_t = 16 * 1024 * 1024)]
    hotline_import_bytes_max: u64,
    /// Report what would be stored, store nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CrashImportArgs {
    #[command(flatten)]
    db: Database,
    /// The file: .csv, .xlsx or .geojson.
    file: PathBuf,
    /// A JSON file mapping fields to the file's column headers, e.g. {"time": "案发时间"}.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// The coordinates' system: wgs84 (default), gcj02 (AMap, Tencent) or bd09 (Baidu).
    #[arg(long)]
    crs: Option<String>,
    /// A CSV's encoding: gbk, gb18030, utf-8 (default: UTF-8 if valid, else GB18030).
    #[arg(long)]
    encoding: Option<String>,
    /// The workbook's sheet (default: the first).
    #[arg(long)]
    sheet: Option<String>,
    /// The county (6-digit admin code) of route codes that name none.
    #[arg(long, env = "ROADLEDGER_COUNTY")]
    county: Option<String>,
    /// Largest file read, bytes.
    #[arg(long, env = "ROADLEDGER_CRASH_IMPORT_BYTES_MAX", default_value_t = 64 * 1024 * 1024)]
    crash_import_bytes_max: u64,
    /// Report what would be imported, store nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    db: Database,
    /// The file (a shapefile may be its .shp, its folder or a .zip).
    file: PathBuf,
    /// Report what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The file's coordinate system when it declares none or declares it wrongly: EPSG:4326, EPSG:4490,
    /// EPSG:4513–4554 (CGCS2000 Gauss-Krüger), gcj02 (AMap, Tencent) or bd09 (Baidu).
    #[arg(long)]
    crs: Option<String>,
    /// Attribute text encoding: gbk, gb18030, utf-8 … (default: the .cpg, else UTF-8).
    #[arg(long)]
    encoding: Option<String>,
    /// The county (6-digit admin code) of features that do not say; features of another county are refused.
    #[arg(long)]
    county: Option<String>,
    /// The layer (GeoPackage table, or shapefile name in a folder or zip) when the file holds several.
    #[arg(long)]
    layer: Option<String>,
    /// Attribute holding the admin code (default: admin_code, XZQDM …).
    #[arg(long)]
    admin_code_field: Option<String>,
    /// Attribute holding the name (default: name, LXMC, XZQMC …).
    #[arg(long)]
    name_field: Option<String>,
    /// Attribute holding the route code (default: route_code, LXBM, ref).
    #[arg(long)]
    route_code_field: Option<String>,
    /// Attribute holding a road part's start stake (default: start_stake, QDZH).
    #[arg(long)]
    start_stake_field: Option<String>,
    /// Attribute holding a road part's end stake (default: end_stake, ZDZH).
    #[arg(long)]
    end_stake_field: Option<String>,
    /// Attribute holding the source's id of uncoded roads (default: source_id, osm_id, id, fid, OBJECTID).
    #[arg(long)]
    source_id_field: Option<String>,
    /// Unit of numeric stakes: m or km.
    #[arg(long, default_value = "m")]
    stake_unit: String,
    /// With roads: a chainage break table (CSV) to apply in the same import.
    #[arg(long)]
    breaks: Option<PathBuf>,
    /// With an OSM file: the highway=* values to keep, comma-separated (default: roads for vehicles).
    #[arg(long, value_delimiter = ',')]
    osm_highways: Option<Vec<String>>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
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
        /// A role; repeat for several: inspector, town_officer, unit_officer, dispatcher, reviewer, leader, admin,
        /// detector (a patrol or drone system), hotline (a 12345 hotline operator).
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
    /// Address to serve `/metrics` on (Prometheus text format), e.g. 127.0.0.1:9090. Off by default; never
    /// served on --listen, so the figures stay off the public address.
    #[arg(long, env = "ROADLEDGER_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    data: DataDir,
    /// PostgreSQL + PostGIS server to use. Without it, a private cluster under --data-dir is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// A hot standby of DATABASE_URL in streaming replication, for the map's tiles and legend, site lists,
    /// exports and OGC API Features. A read goes there only once the standby has replayed everything the
    /// primary had written when the request came; when it lags, is down or is not a standby, the primary
    /// answers (logged, and counted in /metrics). Everything that writes stays on DATABASE_URL.
    #[arg(long, env = "DATABASE_REPLICA_URL", hide_env_values = true)]
    database_replica_url: Option<String>,
    #[command(flatten)]
    photos: PhotoStoreArgs,
    /// XYZ raster tile URL for the base map, e.g. https://tile.example.org/{z}/{x}/{y}.png. Without it the
    /// map draws towns and roads from the database only.
    #[arg(long, env = "ROADLEDGER_BASE_MAP_URL")]
    base_map_url: Option<String>,
    /// A base map the map page offers, NAME=URL with an XYZ raster URL ({x}, {y}, {z}; a {1-4} or {s}
    /// subdomain list is expanded), and `,crs=gcj02` at the end for a GCJ-02 service (AMap, Tencent), so our
    /// sites are shifted onto it; wgs84 by default. Repeatable, at most 10 (one per line in the variable).
    #[arg(long = "base-map", value_name = "NAME=URL", env = "ROADLEDGER_BASE_MAPS", value_delimiter = '\n',
          value_parser = roadledger::http::settings::parse_base_map)]
    base_maps: Vec<roadledger::http::settings::CustomBaseMap>,
    /// Tianditu browser key (32 hex characters, from console.tianditu.gov.cn): offers Tianditu's vector and
    /// imagery maps with their annotation as base maps. The key is sent to the browsers.
    #[arg(long, env = "ROADLEDGER_TIANDITU_KEY", hide_env_values = true)]
    tianditu_key: Option<roadledger::http::settings::TiandituKey>,
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
    /// The county wants photos as the camera took them: inspectors' phones send originals instead of
    /// resizing them to 2048 px and about 500 KB (the originals' EXIF is sent as fields either way).
    #[arg(long, env = "ROADLEDGER_REQUIRE_ORIGINAL_PHOTOS")]
    require_original_photos: bool,
    /// The public report page (随手拍): reports one address (an IPv4 address, an IPv6 /64) may send per hour.
    #[arg(long, env = "ROADLEDGER_PUBLIC_PER_ADDRESS_HOUR", default_value_t = 5)]
    public_per_address_hour: i32,
    /// The public report page: reports one phone (the page's device id) may send per day.
    #[arg(long, env = "ROADLEDGER_PUBLIC_PER_DEVICE_DAY", default_value_t = 10)]
    public_per_device_day: i32,
    /// The public report page: reports the whole county may send per day (what the dispatchers can moderate).
    #[arg(long, env = "ROADLEDGER_PUBLIC_PER_DAY", default_value_t = 300)]
    public_per_day: i32,
    /// The public report page's proof of work, in leading zero bits (0 turns it off, at most 24); 16 takes a
    /// phone about a second.
    #[arg(long, env = "ROADLEDGER_PUBLIC_POW_BITS", default_value_t = 16)]
    public_pow_bits: u8,
    /// The public report page: the longest description, characters (at most 2000).
    #[arg(long, env = "ROADLEDGER_PUBLIC_DESCRIPTION_CHARS_MAX", default_value_t = 500)]
    public_description_chars_max: usize,
    /// A header the reverse proxy in front sets to the client's address (e.g. X-Real-IP), for the public
    /// report page's per-address limit. Only when every request comes through that proxy.
    #[arg(long, env = "ROADLEDGER_PUBLIC_ADDRESS_HEADER")]
    public_address_header: Option<String>,
    /// Patrol and drone detections below this confidence (0–1) are kept, with their candidates, but hidden
    /// from the candidates queue and map unless asked for (`min_score=0`).
    #[arg(long, env = "ROADLEDGER_DETECTION_MIN_CONFIDENCE", default_value_t = 0.5)]
    detection_min_confidence: f64,
    /// Days after which a public report's contact data (name, phone, e-mail) and the abuse limits' hashes
    /// are deleted (checked every few minutes; the report itself stays).
    #[arg(long, env = "ROADLEDGER_PUBLIC_CONTACT_RETENTION_DAYS", default_value_t = 180)]
    public_contact_retention_days: u32,
    /// Open311's jurisdiction_id: a request naming another is refused (400). Default: --county-admin-code.
    #[arg(long, env = "ROADLEDGER_OPEN311_JURISDICTION")]
    open311_jurisdiction: Option<String>,
    /// Requests one Open311 key may post an hour; more are refused (429) and not stored.
    #[arg(long, env = "ROADLEDGER_OPEN311_POSTS_PER_HOUR", default_value_t = 120)]
    open311_posts_per_hour: u32,
    /// The town ranking's weights (晴雨榜), in points: on_time_rate, overdue, return_rate, relapse_rate,
    /// response_days (any left out keep their default, 35/25/15/15/10).
    #[arg(long, env = "ROADLEDGER_RANKING_WEIGHTS", default_value = "")]
    ranking_weights: String,
    /// How many towns the ranking's sunny (晴) and rainy (雨) bands hold, e.g. `3,3`.
    #[arg(long, env = "ROADLEDGER_RANKING_BANDS", default_value = "3,3")]
    ranking_bands: String,
    /// The farming seasons of the crash patterns, `summer=MM-DD..MM-DD,autumn=MM-DD..MM-DD` (三夏, 三秋; any
    /// left out keep their default, 05-25..06-15 and 10-15..11-30). Set them each year as the county does.
    #[arg(long, env = "ROADLEDGER_FARMING_SEASONS", default_value = "")]
    farming_seasons: String,
    /// The school terms of the crash patterns, `MM-DD..MM-DD` separated by commas (a term may run over the
    /// new year); outside them is the school holiday.
    #[arg(long, env = "ROADLEDGER_SCHOOL_TERMS", default_value = "09-01..01-20,02-20..07-05")]
    school_terms: String,
    /// Black-spot screening defaults, as JSON: each method's parameters and the years a run reads, e.g.
    /// `{"sliding_window": {"window_m": 400, "min_crashes": 4}, "junction": {"radius_m": 60}, "data_years": 3}`;
    /// anything left out keeps DOMAIN.md's default (500 m window, 100 m step, ≥ 3 crashes or ≥ 1 fatal; 50 m
    /// around junctions; DBSCAN ε 100 m, 3 points; EPDO weights 12/3/1; 3 years).
    #[arg(long, env = "ROADLEDGER_SCREENING_DEFAULTS", default_value = "")]
    screening_defaults: String,
    /// Hours during which an inspector may correct their own observation.
    #[arg(long, env = "ROADLEDGER_EDIT_WINDOW_HOURS", default_value_t = 24)]
    edit_window_hours: i64,
    /// The Chinese font for close-out sheets (an OpenType .otf/.ttf or .ttc file); by default Debian's
    /// fonts-noto-cjk.
    #[arg(long, env = "ROADLEDGER_CJK_FONT")]
    cjk_font: Option<PathBuf>,
    /// Largest county file uploaded on the admin page, bytes (larger ones: `roadledger import`).
    #[arg(long, env = "ROADLEDGER_IMPORT_BYTES_MAX", default_value_t = 512 * 1024 * 1024)]
    import_bytes_max: u64,
    /// Largest crash file dispatchers upload (事故数据), bytes.
    #[arg(long, env = "ROADLEDGER_CRASH_IMPORT_BYTES_MAX", default_value_t = 64 * 1024 * 1024)]
    crash_import_bytes_max: u64,
    /// Largest 12345 hotline export operators upload (热线工单), bytes.
    #[arg(long, env = "ROADLEDGER_HOTLINE_IMPORT_BYTES_MAX", default_value_t = 16 * 1024 * 1024)]
    hotline_import_bytes_max: u64,
    /// Memory for drawn map tiles, MiB (0: draw every tile afresh). Cached tiles are checked against the
    /// database's change log on every request, so they are never stale.
    #[arg(long, env = "ROADLEDGER_TILE_CACHE_MIB", default_value_t = 256)]
    tile_cache_mib: usize,
    /// Memory for upload bodies being received, MiB, shared by every upload in progress (observations and
    /// checklist evidence hold their photos in memory until stored). An upload that finds no room within
    /// --upload-buffer-wait-ms gets 503 with Retry-After. Default: a quarter of the machine's (or the
    /// cgroup's) memory, at least 256 MiB; never less than one largest upload.
    #[arg(long, env = "ROADLEDGER_UPLOAD_BUFFER_MIB")]
    upload_buffer_mib: Option<usize>,
    /// How long an upload waits for room in the upload buffers, milliseconds.
    #[arg(long, env = "ROADLEDGER_UPLOAD_BUFFER_WAIT_MS", default_value_t = 2000)]
    upload_buffer_wait_ms: u64,
    /// Slowest average rate an upload body may arrive at after --upload-body-grace-s, bytes per second;
    /// slower ones get 408. A 2G phone sends 5 KB/s or more.
    #[arg(long, env = "ROADLEDGER_UPLOAD_BODY_MIN_RATE", default_value_t = 2048)]
    upload_body_min_rate: u64,
    /// Seconds an upload body may take before the minimum rate applies.
    #[arg(long, env = "ROADLEDGER_UPLOAD_BODY_GRACE_S", default_value_t = 10)]
    upload_body_grace_s: u64,
    /// Seconds within which a whole upload body must arrive, however fast.
    #[arg(long, env = "ROADLEDGER_UPLOAD_BODY_TIMEOUT_S", default_value_t = 900)]
    upload_body_timeout_s: u64,
    /// Seconds within which every other request is answered, else 503 (a streamed export: its first byte).
    #[arg(long, env = "ROADLEDGER_REQUEST_TIMEOUT_S", default_value_t = 60)]
    request_timeout_s: u64,
    /// Seconds a connection has to send a request's headers (and an idle keep-alive connection is kept).
    #[arg(long, env = "ROADLEDGER_HEADER_READ_TIMEOUT_S", default_value_t = 20)]
    header_read_timeout_s: u64,
    /// Load the Zhangjiagang demo dataset (and one demo account per role) into an empty database.
    #[arg(long)]
    demo: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to standard error: standard output is for what commands print (a DATABASE_URL, a token).
    let cli = Cli::parse();
    // An import's statements take seconds by design: sqlx's slow-statement warnings are noise there.
    let default_filter = match cli.command {
        Command::Import { .. } => "roadledger=info,sqlx=error",
        _ => "roadledger=info,tower_http=warn,sqlx=warn",
    };
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into()),
    );
    match cli.log_format {
        LogFormat::Text => logs.init(),
        // `span` holds the innermost span's fields and `spans` every open one's, the request's among them.
        LogFormat::Json => logs.json().init(),
    }
    match cli.command {
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
        Command::Import { command: ImportCommand::Crashes(args) } => {
            let request = cli::CrashImportRequest {
                file: args.file,
                mapping: args.mapping,
                crs: args.crs,
                encoding: args.encoding,
                sheet: args.sheet,
                county: args.county,
                bytes_max: args.crash_import_bytes_max,
                dry_run: args.dry_run,
                json: args.json,
            };
            with_database(args.db, move |pool| Box::pin(async move { cli::import_crashes(&pool, request).await })).await
        }
        Command::Import { command: ImportCommand::Hotline(args) } => {
            let request = cli::HotlineImportRequest {
                file: args.file,
                crs: args.crs,
                encoding: args.encoding,
                bytes_max: args.hotline_import_bytes_max,
                dry_run: args.dry_run,
                json: args.json,
            };
            with_database(args.db, move |pool| Box::pin(async move { cli::import_hotline(&pool, request).await })).await
        }
        Command::Import { command } => {
            let (kind, args) = match command {
                ImportCommand::Towns(a) => (ImportKind::Towns, a),
                ImportCommand::Roads(a) => (ImportKind::Roads, a),
                ImportCommand::Organisations(a) => (ImportKind::Organisations, a),
                ImportCommand::ChainageBreaks(a) => (ImportKind::ChainageBreaks, a),
                ImportCommand::Crashes(_) | ImportCommand::Hotline(_) => {
                    unreachable!("crash and hotline imports are matched above")
                }
            };
            let request = cli::ImportRequest {
                kind,
                file: args.file,
                breaks: args.breaks,
                options: OptionsInput {
                    dry_run: args.dry_run,
                    crs: args.crs,
                    encoding: args.encoding,
                    county: args.county,
                    layer: args.layer,
                    mapping: FieldMapping {
                        admin_code: args.admin_code_field,
                        name: args.name_field,
                        route_code: args.route_code_field,
                        start_stake: args.start_stake_field,
                        end_stake: args.end_stake_field,
                        source_id: args.source_id_field,
                    },
                    stake_unit: Some(args.stake_unit),
                    osm_highways: args.osm_highways,
                },
                json: args.json,
            };
            with_database(args.db, move |pool| Box::pin(async move { cli::import(&pool, request).await })).await
        }
        Command::Backup(args) => backup_or_restore(args, false).await,
        Command::Restore(args) => backup_or_restore(args, true).await,
    }
}

/// `backup` and `restore`: the database as `serve` finds it (DATABASE_URL, else the embedded cluster under
/// --data-dir), not migrated first, since a backup takes the database as it is and a restore migrates after.
async fn backup_or_restore(args: BackupArgs, restore: bool) -> anyhow::Result<()> {
    // Before the database starts, so a wrong photo setting is said at once.
    let photos = args.photos.open(&args.db.data.data_dir)?;
    let (url, embedded) = match &args.db.database_url {
        Some(url) => (url.clone(), None),
        None => {
            let data_dir = args.db.data.data_dir.clone();
            let pg = tokio::task::spawn_blocking(move || EmbeddedPg::start(&data_dir)).await??;
            (pg.url(), Some(pg))
        }
    };
    let result = async {
        let (done, manifest) = if restore {
            ("restored", roadledger::backup::restore(&args.dir, &url, &photos).await?)
        } else {
            ("backed up", roadledger::backup::backup(&url, &photos, &args.dir).await?)
        };
        println!(
            "{done} the database (migration {}, {} bytes dumped) and {} photo files, {} bytes in all, {} {}",
            manifest.schema_migration.version,
            manifest.database.bytes,
            manifest.photos.len(),
            manifest.total_bytes(),
            if restore { "from" } else { "into" },
            args.dir.display()
        );
        anyhow::Ok(())
    }
    .await;
    if let Some(pg) = embedded.filter(|pg| pg.started_here) {
        tokio::task::spawn_blocking(move || pg.stop()).await??;
    }
    result
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
    // Checked before anything starts, so a wrong flag is said at once.
    let base_maps = base_maps(&args)?;
    let photos = args.photos.open(&args.data.data_dir)?;
    let (options, embedded) = match &args.database_url {
        Some(url) => (url.parse::<PgConnectOptions>().context("DATABASE_URL is not a PostgreSQL URL")?, None),
        None => {
            let data_dir = args.data.data_dir.clone();
            let pg = tokio::task::spawn_blocking(move || EmbeddedPg::start(&data_dir)).await??;
            tracing::info!(pg_data = %pg.pg_data().display(), "embedded PostgreSQL is running");
            (pg.connect_options(), Some(pg))
        }
    };
    let result = run(&args, options, base_maps, photos).await;
    if let Some(pg) = embedded.filter(|pg| pg.started_here) {
        tracing::info!("stopping the embedded PostgreSQL");
        if let Err(e) = tokio::task::spawn_blocking(move || pg.stop()).await? {
            tracing::error!(error = %e, "could not stop the embedded PostgreSQL");
        }
    }
    result
}

/// The `--base-map` entries, then the older `--base-map-url` as one more, checked together.
fn base_maps(args: &ServeArgs) -> anyhow::Result<Vec<roadledger::http::settings::CustomBaseMap>> {
    let mut base_maps = args.base_maps.clone();
    if let Some(url) = &args.base_map_url {
        // The older single flag is one more XYZ base map, checked the same way.
        let tiles =
            roadledger::http::settings::xyz_tiles(url).map_err(|why| anyhow::anyhow!("--base-map-url: {why}"))?;
        base_maps.push(roadledger::http::settings::CustomBaseMap {
            name: "底图".into(),
            tiles,
            crs: roadledger::domain::coords::SourceCrs::Wgs84,
        });
    }
    roadledger::http::settings::check_base_maps(&base_maps)?;
    Ok(base_maps)
}

async fn run(
    args: &ServeArgs,
    options: PgConnectOptions,
    base_maps: Vec<roadledger::http::settings::CustomBaseMap>,
    photos: PhotoStore,
) -> anyhow::Result<()> {
    let pool = db::connect(options).await.context("cannot connect to the database")?;
    db::MIGRATOR.run(&pool).await.context("cannot migrate the database")?;

    if args.demo {
        demo::load_if_empty(&pool, &photos).await.context("cannot load the demo dataset")?;
    }
    let settings = Settings {
        photo_limits: PhotoLimits { bytes_max: args.photo_bytes_max, pixels_max: args.photo_pixels_max },
        county_admin_code: args.county_admin_code.clone(),
        base_map_url: args.base_map_url.clone(),
        tianditu_key: args.tianditu_key.clone(),
        base_maps,
        web_dir: args.web_dir.clone(),
        cjk_font: args.cjk_font.clone(),
        cookie_secure: args.secure_cookies,
        session_idle: chrono::Duration::hours(args.session_idle_hours.clamp(1, 24 * 7)),
        observation_edit_window: chrono::Duration::hours(args.edit_window_hours.clamp(0, 24 * 30)),
        look_back_radius_m: args.look_back_radius_m.clamp(10.0, 5_000.0),
        import_bytes_max: args.import_bytes_max,
        crash_import_bytes_max: args.crash_import_bytes_max,
        hotline_import_bytes_max: args.hotline_import_bytes_max,
        tile_cache_bytes: args.tile_cache_mib.min(64 * 1024) * 1024 * 1024,
        require_original_photos: args.require_original_photos,
        detection_min_confidence: args.detection_min_confidence.clamp(0.0, 1.0),
        public_contact_retention_days: args.public_contact_retention_days.clamp(1, 36_500),
        open311_jurisdiction: args.open311_jurisdiction.clone().unwrap_or_else(|| args.county_admin_code.clone()),
        open311_posts_per_hour: args.open311_posts_per_hour,
        ranking_weights: args.ranking_weights.parse().map_err(|e| anyhow::anyhow!("--ranking-weights: {e}"))?,
        ranking_bands: parse_bands(&args.ranking_bands).context("--ranking-bands")?,
        period_rules: roadledger::domain::crash_patterns::PeriodRules {
            farming: args.farming_seasons.parse().map_err(|e| anyhow::anyhow!("--farming-seasons: {e}"))?,
            school_terms: args.school_terms.parse().map_err(|e| anyhow::anyhow!("--school-terms: {e}"))?,
        },
        screening: args.screening_defaults.parse().map_err(|e| anyhow::anyhow!("--screening-defaults: {e}"))?,
        upload_limits: upload_limits(args),
        request_timeout: Duration::from_secs(args.request_timeout_s.max(1)),
        public_limits: roadledger::domain::citizen::PublicLimits {
            per_address_hour: args.public_per_address_hour.max(0),
            per_device_day: args.public_per_device_day.max(0),
            per_day: args.public_per_day.max(0),
            pow_bits: args.public_pow_bits.min(roadledger::domain::citizen::POW_BITS_MAX),
            description_chars_max: args
                .public_description_chars_max
                .min(roadledger::domain::public_report::DESCRIPTION_CHARS_MAX),
            ..Default::default()
        },
        public_address_header: args
            .public_address_header
            .as_deref()
            .map(|h| h.parse::<axum::http::HeaderName>())
            .transpose()
            .context("--public-address-header")?,
        ..Settings::default()
    };
    if !settings.web_dir.join("node_modules/maplibre-gl").exists() {
        tracing::warn!(web_dir = %settings.web_dir.display(), "maplibre-gl is not installed: run `npm ci` in web/");
    }
    let mut state = AppState { pool: pool.clone(), replica: None, photos, settings: Arc::new(settings) };
    if let Some(url) = &args.database_replica_url {
        let options = url.parse::<PgConnectOptions>().context("DATABASE_REPLICA_URL is not a PostgreSQL URL")?;
        // Connected on first use: a replica down at start-up leaves the map on the primary, not the server down.
        state = state.with_replica(db::Replica::connect_lazy(options));
        tracing::info!("reads of the map, lists and exports may be served by the read replica");
    }
    http::reports::spawn_schedule(state.clone());
    http::public_reports::spawn_purge(state.clone());
    let app = http::router(state);

    roadledger::metrics::mark_start();
    let serve_limits = ServeLimits { header_read_timeout: Duration::from_secs(args.header_read_timeout_s.max(1)) };
    if let Some(addr) = args.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
        tracing::info!("metrics are served on http://{}/metrics", listener.local_addr()?);
        let metrics = http::metrics::router(pool.clone());
        tokio::spawn(async move {
            if let Err(e) = http::serve(listener, metrics, serve_limits, shutdown_signal()).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!("RoadLedger is serving on http://{}/", listener.local_addr()?);
    http::serve(listener, app, serve_limits, shutdown_signal()).await?;
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

/// The upload settings; the buffers hold at least one largest upload, so that one always fits.
fn upload_limits(args: &ServeArgs) -> UploadLimits {
    let largest_upload = args.photo_bytes_max * Settings::default().photos_per_observation_max + 1024 * 1024;
    let buffer_bytes =
        args.upload_buffer_mib.map_or_else(default_upload_buffer_bytes, |mib| mib.saturating_mul(1024 * 1024));
    if buffer_bytes < largest_upload {
        tracing::warn!(buffer_bytes, largest_upload, "the upload buffers are raised to hold one largest upload");
    }
    UploadLimits {
        buffer_bytes: buffer_bytes.max(largest_upload),
        buffer_wait: Duration::from_millis(args.upload_buffer_wait_ms),
        body_min_rate_bytes_s: args.upload_body_min_rate,
        body_grace: Duration::from_secs(args.upload_body_grace_s),
        body_timeout: Duration::from_secs(args.upload_body_timeout_s.max(1)),
    }
}

/// `SUNNY,RAINY`: how many towns each band of the ranking holds.
fn parse_bands(text: &str) -> anyhow::Result<roadledger::domain::report::RankingBands> {
    let (sunny, rainy) = text.split_once(',').context("expected SUNNY,RAINY, e.g. 3,3")?;
    let count = |s: &str| s.trim().parse::<usize>().ok().filter(|n| *n <= 100).context("a count of towns, 0–100");
    Ok(roadledger::domain::report::RankingBands { sunny: count(sunny)?, rainy: count(rainy)? })
}
