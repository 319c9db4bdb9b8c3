//! The HTTP edge: axum routers, extractors and response shapes. Handlers parse and validate input into
//! domain types, call `db` and `photos`, and map errors to `Error`.

mod accounts;
pub mod auth;
mod candidates;
mod citizen;
mod closeout;
mod crash_patterns;
mod crashes;
mod detections;
pub mod error;
mod health;
mod hotline;
mod imports;
mod ledger;
mod lifecycle;
pub mod limits;
pub mod metrics;
mod observations;
mod ogc;
mod open311;
mod open311_clients;
pub mod openapi;
mod photos;
mod places;
pub mod public_reports;
mod reference;
pub mod release;
pub mod reports;
mod screenings;
pub mod security;
pub mod serve;
pub mod settings;
mod site_exports;
mod site_view;
mod sites;
pub mod tiles;
mod uploads;
pub mod vendor;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use sqlx::PgPool;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use error::{Error, Result};
pub use serve::{ServeLimits, serve};

use crate::db::{ReadPool, Replica};
use crate::domain::policy::{DeadlinePolicy, LookBackPolicy};

use crate::photos::{PhotoLimits, PhotoStore};

/// Settings the handlers need; one value per server, shared read-only.
#[derive(Debug, Clone)]
pub struct Settings {
    pub photo_limits: PhotoLimits,
    pub photos_per_observation_max: usize,
    /// County whose X/Y/C route numbers a bare `road_code` refers to (DOMAIN.md §4).
    pub county_admin_code: String,
    /// XYZ raster tile URL template for the base map; `None` draws towns and roads only. Kept for pages that
    /// predate `base_maps`, which lists it too.
    pub base_map_url: Option<String>,
    /// Tianditu's browser key: with it, Tianditu's vector and imagery maps are offered as base maps.
    pub tianditu_key: Option<settings::TiandituKey>,
    /// The operator's XYZ raster base maps (`--base-map`), checked, in order.
    pub base_maps: Vec<settings::CustomBaseMap>,
    pub web_dir: PathBuf,
    /// The close-out sheet's Chinese font file; `None`: Debian's `fonts-noto-cjk`.
    pub cjk_font: Option<PathBuf>,
    /// A session ends after this long without a request (and after 7 days in any case).
    pub session_idle: chrono::Duration,
    /// Mark the session cookie `Secure`: set when the service is reached over HTTPS.
    pub cookie_secure: bool,
    pub login_throttle: LoginThrottle,
    /// How long an inspector may correct their own observation.
    pub observation_edit_window: chrono::Duration,
    /// A look-back observation is recorded within this distance of its site (metres).
    pub look_back_radius_m: f64,
    pub deadlines: DeadlinePolicy,
    pub look_back: LookBackPolicy,
    /// The town ranking's weights and bands (晴雨榜).
    pub ranking_weights: crate::domain::report::RankingWeights,
    pub ranking_bands: crate::domain::report::RankingBands,
    /// The crash patterns' periods: farming seasons and school terms (`--farming-seasons`, `--school-terms`).
    pub period_rules: crate::domain::crash_patterns::PeriodRules,
    /// The black-spot screening's defaults (`--screening-defaults`), which a run may override.
    pub screening: crate::domain::screening::ScreeningDefaults,
    /// Largest county file uploaded on the admin page (bytes); larger ones go through `roadledger import`.
    pub import_bytes_max: u64,
    /// Largest crash file imported (`POST /crash-imports` and `roadledger import crashes`), bytes.
    pub crash_import_bytes_max: u64,
    /// Largest 12345 hotline export imported (`POST /hotline-imports`, `roadledger import hotline`), bytes.
    pub hotline_import_bytes_max: u64,
    /// Memory for drawn vector tiles (bytes); 0 draws every tile afresh.
    pub tile_cache_bytes: usize,
    /// Most sites one GeoJSON or KML export holds (`site_exports`); more is a 400 asking to narrow the filter.
    pub export_sites_max: i64,
    /// The county wants photos as the camera took them: the phone sends originals, unresized (their EXIF
    /// is still sent as fields too). Off: the phone resizes to 2048 px and about 500 KB.
    pub require_original_photos: bool,
    /// Detections below this confidence are kept, with their candidates, but left out of the queue and the
    /// map unless asked for (`?min_score=0`).
    pub detection_min_confidence: f64,
    /// A public report's contact data is purged this many days after it was received (`public_reports::spawn_purge`).
    pub public_contact_retention_days: u32,
    /// Upload bodies' pace and the memory they share (`limits`).
    pub upload_limits: limits::UploadLimits,
    /// Every request but an upload is answered within this, or 503 (`limits::request_timeout`).
    pub request_timeout: std::time::Duration,
    /// The public report page's abuse limits (`citizen`, `domain::citizen`).
    pub public_limits: crate::domain::citizen::PublicLimits,
    /// A header a reverse proxy in front sets to the client's address (e.g. `X-Real-IP`), read by the public
    /// report page's per-address limit instead of the TCP peer (which would be the proxy). Only set it when
    /// every request comes through that proxy: a client could send the header itself.
    pub public_address_header: Option<axum::http::HeaderName>,
    /// Open311's `jurisdiction_id` (`--open311-jurisdiction`): a request naming another one is refused.
    pub open311_jurisdiction: String,
    /// Requests one Open311 key may post an hour (`--open311-posts-per-hour`); more is a 429.
    pub open311_posts_per_hour: u32,
}

/// Failed sign-ins allowed within `window` before further attempts are refused with 429.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pub window: chrono::Duration,
    pub per_account: i64,
    pub per_client: i64,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle { window: chrono::Duration::minutes(15), per_account: 5, per_client: 20 }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            photo_limits: PhotoLimits::default(),
            photos_per_observation_max: 8,
            county_admin_code: "320582".into(),
            base_map_url: None,
            tianditu_key: None,
            base_maps: Vec::new(),
            web_dir: PathBuf::from("web"),
            cjk_font: None,
            session_idle: chrono::Duration::hours(12),
            cookie_secure: false,
            login_throttle: LoginThrottle::default(),
            observation_edit_window: chrono::Duration::hours(24),
            look_back_radius_m: crate::domain::observation::LOOK_BACK_RADIUS_M,
            deadlines: DeadlinePolicy::default(),
            look_back: Default::default(),
            ranking_weights: Default::default(),
            ranking_bands: Default::default(),
            period_rules: Default::default(),
            screening: Default::default(),
            import_bytes_max: 512 * 1024 * 1024,
            crash_import_bytes_max: crate::import::crashes::CrashLimits::default().bytes_max,
            hotline_import_bytes_max: crate::import::hotline::default_limits().bytes_max,
            tile_cache_bytes: tiles::CACHE_BYTES_MAX,
            export_sites_max: site_exports::EXPORT_SITES_MAX,
            require_original_photos: false,
            detection_min_confidence: 0.5,
            public_contact_retention_days: 180,
            upload_limits: limits::UploadLimits::default(),
            request_timeout: std::time::Duration::from_secs(60),
            public_limits: Default::default(),
            public_address_header: None,
            open311_jurisdiction: "320582".into(),
            open311_posts_per_hour: 120,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    /// The primary: every write, and every read a write decides on.
    pub pool: PgPool,
    /// The read replica (`--database-replica-url`), for the reads that may be served from it: see
    /// [`AppState::read`].
    pub replica: Option<Arc<Replica>>,
    pub photos: PhotoStore,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn with_replica(self, replica: Replica) -> AppState {
        AppState { replica: Some(Arc::new(replica)), ..self }
    }

    /// A pool for a read that may be served by the replica (the map's tiles and legend, site lists, exports,
    /// OGC API Features): the replica once it has caught up with the primary, else the primary
    /// (`db::replica`). For a read that runs in one call, prefer [`AppState::read`], which also falls back
    /// when the replica fails the read itself.
    pub async fn reader(&self) -> sqlx::Result<ReadPool> {
        match &self.replica {
            Some(replica) => replica.reader(&self.pool).await,
            None => Ok(ReadPool::primary(&self.pool)),
        }
    }

    /// Runs `read` on [`AppState::reader`]'s pool, and again on the primary if the replica fails it.
    /// `read` is called with the pool, e.g. `state.read(|reads| sites::list(reads, &filter))`.
    pub async fn read<T, F, Fut>(&self, read: F) -> sqlx::Result<T>
    where
        F: Fn(ReadPool) -> Fut,
        Fut: Future<Output = sqlx::Result<T>>,
    {
        match &self.replica {
            Some(replica) => replica.read(&self.pool, read).await,
            None => read(ReadPool::primary(&self.pool)).await,
        }
    }
}

/// Largest request bodies of the routes that take files; every other route keeps axum's 2 MB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    upload_bytes_max: usize,
    /// The public report page: at most three photos.
    citizen_upload_bytes_max: usize,
    import_bytes_max: usize,
    crash_import_bytes_max: usize,
    hotline_import_bytes_max: usize,
}

impl BodyLimits {
    fn new(settings: &Settings) -> BodyLimits {
        BodyLimits {
            upload_bytes_max: settings.photo_limits.bytes_max * settings.photos_per_observation_max + 1024 * 1024,
            citizen_upload_bytes_max: settings.photo_limits.bytes_max * crate::domain::public_report::PHOTOS_MAX
                + 1024 * 1024,
            import_bytes_max: usize::try_from(settings.import_bytes_max)
                .unwrap_or(usize::MAX)
                .saturating_add(1024 * 1024),
            // The file's own limit answers first, in its words; the body limit only stops what is far over it.
            crash_import_bytes_max: usize::try_from(settings.crash_import_bytes_max)
                .unwrap_or(usize::MAX)
                .saturating_add(1024 * 1024),
            hotline_import_bytes_max: usize::try_from(settings.hotline_import_bytes_max)
                .unwrap_or(usize::MAX)
                .saturating_add(1024 * 1024),
        }
    }
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits::new(&Settings::default())
    }
}

/// Every `/api/v1` route, one line per path. `routes!` takes each handler's path and method from its
/// `#[utoipa::path]`, so the OpenAPI document (`openapi::document`) has exactly these routes; add a route
/// here with `routes!`, never with `.route`, or `tests/it/openapi.rs` fails.
pub(crate) fn api(limits: BodyLimits) -> OpenApiRouter<AppState> {
    let uploads = DefaultBodyLimit::max(limits.upload_bytes_max);
    let citizen_uploads = DefaultBodyLimit::max(limits.citizen_upload_bytes_max);
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(observations::create).layer(uploads))
        .routes(routes!(observations::show, observations::edit))
        .routes(routes!(sites::list))
        .routes(routes!(ledger::csv))
        .routes(routes!(ledger::xlsx))
        .routes(routes!(sites::counts))
        .routes(routes!(sites::nearby))
        .routes(routes!(site_exports::geojson))
        .routes(routes!(site_exports::kml))
        .routes(routes!(sites::show))
        .routes(routes!(closeout::pdf))
        .routes(routes!(lifecycle::act))
        .routes(routes!(lifecycle::look_backs))
        .routes(routes!(lifecycle::plan_look_backs))
        .routes(routes!(lifecycle::look_backs_by_town))
        .routes(routes!(lifecycle::evidence).layer(uploads))
        .routes(routes!(photos::original))
        .routes(routes!(photos::thumbnail))
        .routes(routes!(reference::towns))
        .routes(routes!(reference::roads))
        .routes(routes!(reference::hazard_types))
        .routes(routes!(reference::templates))
        .routes(routes!(settings::settings))
        .routes(routes!(accounts::current, accounts::login, accounts::logout))
        .routes(routes!(accounts::change_password))
        .routes(routes!(accounts::tokens, accounts::create_token))
        .routes(routes!(accounts::revoke_token))
        .routes(routes!(accounts::users, accounts::create_user))
        .routes(routes!(accounts::disable_user))
        .routes(routes!(accounts::enable_user))
        .routes(routes!(accounts::reset_password))
        .routes(routes!(accounts::organisations))
        .routes(routes!(imports::create).layer(DefaultBodyLimit::max(limits.import_bytes_max)))
        .routes(routes!(imports::history))
        .routes(routes!(imports::progress))
        .routes(routes!(crashes::create, crashes::imports).layer(DefaultBodyLimit::max(limits.crash_import_bytes_max)))
        .routes(routes!(crashes::list))
        .routes(routes!(crashes::show))
        .routes(routes!(places::towns))
        .routes(routes!(places::roads))
        .routes(routes!(places::locate_point))
        .routes(routes!(places::locate_stake))
        .routes(routes!(reports::weekly))
        .routes(routes!(reports::monthly))
        .routes(routes!(reports::weekly_pdf))
        .routes(routes!(reports::weekly_xlsx))
        .routes(routes!(reports::monthly_pdf))
        .routes(routes!(reports::monthly_xlsx))
        .routes(routes!(reports::publication_pdf))
        .routes(routes!(reports::publication_xlsx))
        .routes(routes!(reports::publish_weekly))
        .routes(routes!(reports::publish_monthly))
        .routes(routes!(reports::draft_weekly))
        .routes(routes!(reports::draft_monthly))
        .routes(routes!(reports::drafts))
        .routes(routes!(reports::ranking))
        .routes(routes!(reports::publish_ranking))
        .routes(routes!(reports::publications))
        .routes(routes!(reports::publication))
        .routes(routes!(crash_patterns::crash_patterns))
        .routes(routes!(crash_patterns::candidate_sheet_pdf))
        .routes(routes!(crash_patterns::calendar_year, crash_patterns::replace_calendar_year))
        .routes(routes!(screenings::create, screenings::list))
        .routes(routes!(screenings::show))
        .routes(routes!(accounts::create_detector_token))
        .routes(routes!(detections::create).layer(uploads))
        .routes(routes!(detections::show))
        .routes(routes!(detections::image))
        .routes(routes!(detections::thumbnail))
        .routes(routes!(detections::import))
        .routes(routes!(candidates::list))
        .routes(routes!(candidates::show))
        .routes(routes!(candidates::nearby_sites))
        .routes(routes!(candidates::confirm))
        .routes(routes!(candidates::dismiss))
        .routes(routes!(candidates::site_crashes))
        .routes(routes!(public_reports::list))
        .routes(routes!(public_reports::show))
        .routes(routes!(public_reports::photo_original))
        .routes(routes!(public_reports::photo_thumbnail))
        .routes(routes!(public_reports::nearby_sites))
        .routes(routes!(public_reports::accept))
        .routes(routes!(public_reports::merge))
        .routes(routes!(public_reports::reject))
        .routes(routes!(public_reports::site_reports))
        .routes(routes!(hotline::enter))
        .routes(routes!(hotline::import).layer(DefaultBodyLimit::max(limits.hotline_import_bytes_max)))
        .routes(routes!(citizen::create).layer(citizen_uploads))
        .routes(routes!(citizen::show))
        .routes(routes!(citizen::categories))
        .routes(routes!(citizen::challenge))
        .routes(routes!(citizen::photo))
        .routes(routes!(citizen::map))
        .routes(routes!(open311_clients::list, open311_clients::create))
        .routes(routes!(open311_clients::revoke))
        .routes(routes!(openapi::openapi_json))
}

/// The whole application: API, photos and the web pages.
pub fn router(state: AppState) -> Router {
    let web_dir = state.settings.web_dir.clone();
    let csp = security::content_security_policy(&state.settings);
    // MapLibre under /vendor/: versioned and cached for good, and unversioned for the pages' imports.
    let (vendor, vendor_paths) = vendor::routes(&web_dir);

    let (api, _document) = api(BodyLimits::new(&state.settings)).split_for_parts();
    let api = api
        .fallback(|| async { Error::NotFound("no such API route; see /api/v1/openapi.json or /api.html".into()) })
        .layer(axum::Extension(Arc::new(vendor_paths)))
        // One memory budget for the bodies of every upload this router reads.
        .layer(axum::Extension(Arc::new(limits::UploadBuffers::new(&state.settings.upload_limits))));

    // Pages change with every deploy: browsers must revalidate them.
    let pages = ServeDir::new(&web_dir)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(web_dir.join("404.html")));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // The inspection page's service worker, with the release it installs written in.
        .route("/sw.js", get(release::service_worker))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/api", get(ogc::api))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{id}", get(ogc::collection))
        .route("/ogc/collections/{id}/items", get(ogc::items))
        .route("/ogc/collections/{id}/items/{feature}", get(ogc::item))
        .route("/ogc/collections/{id}/queryables", get(ogc::queryables))
        .route(
            "/tiles/{layer}/{z}/{x}/{y}",
            get(tiles::tile).layer(axum::Extension(Arc::new(tiles::TileCache::new(state.settings.tile_cache_bytes)))),
        )
        .nest("/api/v1", api)
        // Open311 GeoReport v2: outside /api/v1, at the paths Open311 clients know (`open311::routes`).
        .merge(open311::routes())
        .merge(vendor)
        // web/ also holds what `npm ci` installed for the browser tests (playwright-core, axe-core) and its
        // manifests: none of it is a page. MapLibre is served from /vendor/ above.
        .route("/node_modules/{*path}", get(not_a_page))
        .route("/package.json", get(not_a_page))
        .route("/package-lock.json", get(not_a_page))
        .fallback_service(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(state.clone(), auth::gate_pages))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                ))
                .service(pages),
        )
        // Before any route: a path no file or route can have is a 4xx, never the file service's 500.
        .layer(axum::middleware::from_fn(security::limit_path))
        // A request not answered in time is a 503 (uploads keep their own pace: `limits::UploadBody`).
        .layer(axum::middleware::from_fn_with_state(state.settings.request_timeout, limits::request_timeout))
        // Slides the session cookie's expiry along with the server's (see `auth::live_session`).
        .layer(axum::middleware::from_fn(auth::renew_session_cookie))
        // On every answer, pages and API alike (see `security`): no sniffing a type other than the one sent,
        // the CSP (only our scripts, never framed), and no full addresses leaked to other hosts.
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, csp))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static(security::REFERRER_POLICY),
        ))
        // gzip or br as the client accepts: GeoJSON, pages and MapLibre shrink 5–10×. Responses that come
        // compressed already (tiles) and images pass through as they are.
        .layer(CompressionLayer::new())
        // Every log line of a request names its id, method and route template.
        .layer(TraceLayer::new_for_http().make_span_with(metrics::request_span))
        // Outermost: the request id (which the span above reads) and the request metrics. `/metrics` itself
        // is another router on another address (`metrics::router`), never this one.
        .layer(axum::middleware::from_fn(metrics::observe))
        .with_state(state)
}

async fn not_a_page() -> Error {
    Error::NotFound("no such page".into())
}

/// `Json` with our error shape: a malformed body is a problem+json 400 that says what is wrong, a missing
/// content type a 415.
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(Error::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into()))
            }
            Err(rejection) => Err(Error::BadRequest(rejection.body_text())),
        }
    }
}
