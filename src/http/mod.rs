//! The HTTP edge: axum routers, extractors and response shapes. Handlers parse and validate input into
//! domain types, call `db` and `photos`, and map errors to `Error`.

mod accounts;
pub mod auth;
mod closeout;
pub mod error;
mod health;
mod imports;
mod ledger;
mod lifecycle;
mod observations;
mod ogc;
mod photos;
mod places;
mod reference;
mod settings;
mod site_view;
mod sites;
pub mod tiles;
mod uploads;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{delete, get, post};
use sqlx::PgPool;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::{Error, Result};

use crate::domain::policy::{DeadlinePolicy, LookBackPolicy};

use crate::photos::{PhotoLimits, PhotoStore};

/// Settings the handlers need; one value per server, shared read-only.
#[derive(Debug, Clone)]
pub struct Settings {
    pub photo_limits: PhotoLimits,
    pub photos_per_observation_max: usize,
    /// County whose X/Y/C route numbers a bare `road_code` refers to (DOMAIN.md §4).
    pub county_admin_code: String,
    /// XYZ raster tile URL template for the base map; `None` draws towns and roads only.
    pub base_map_url: Option<String>,
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
    /// Largest county file uploaded on the admin page (bytes); larger ones go through `roadledger import`.
    pub import_bytes_max: u64,
    /// Memory for drawn vector tiles (bytes); 0 draws every tile afresh.
    pub tile_cache_bytes: usize,
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
            web_dir: PathBuf::from("web"),
            cjk_font: None,
            session_idle: chrono::Duration::hours(12),
            cookie_secure: false,
            login_throttle: LoginThrottle::default(),
            observation_edit_window: chrono::Duration::hours(24),
            look_back_radius_m: crate::domain::observation::LOOK_BACK_RADIUS_M,
            deadlines: DeadlinePolicy::default(),
            look_back: Default::default(),
            import_bytes_max: 512 * 1024 * 1024,
            tile_cache_bytes: tiles::CACHE_BYTES_MAX,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub photos: PhotoStore,
    pub settings: Arc<Settings>,
}

/// The whole application: API, photos and the web pages.
pub fn router(state: AppState) -> Router {
    let upload_bytes_max =
        state.settings.photo_limits.bytes_max * state.settings.photos_per_observation_max + 1024 * 1024;
    let web_dir = state.settings.web_dir.clone();
    let maplibre = web_dir.join("node_modules/maplibre-gl/dist");

    let api = Router::new()
        .route("/observations", post(observations::create).layer(DefaultBodyLimit::max(upload_bytes_max)))
        .route("/observations/{id}", get(observations::show).patch(observations::edit))
        .route("/sites", get(sites::list))
        .route("/ledger.csv", get(ledger::csv))
        .route("/ledger.xlsx", get(ledger::xlsx))
        .route("/sites/counts", get(sites::counts))
        .route("/sites/{id}", get(sites::show))
        .route("/sites/{id}/closeout.pdf", get(closeout::pdf))
        .route("/sites/{id}/actions", post(lifecycle::act))
        .route("/look-backs", get(lifecycle::look_backs))
        .route("/look-backs/plan", post(lifecycle::plan_look_backs))
        .route("/look-backs/towns", get(lifecycle::look_backs_by_town))
        .route(
            "/sites/{id}/items/{code}/evidence",
            post(lifecycle::evidence).layer(DefaultBodyLimit::max(upload_bytes_max)),
        )
        .route("/photos/{sha256}", get(photos::original))
        .route("/photos/{sha256}/thumbnail", get(photos::thumbnail))
        .route("/towns", get(reference::towns))
        .route("/roads", get(reference::roads))
        .route("/hazard-types", get(reference::hazard_types))
        .route("/checklist-templates", get(reference::templates))
        .route("/settings", get(settings::settings))
        .route("/session", get(accounts::current).post(accounts::login).delete(accounts::logout))
        .route("/session/password", post(accounts::change_password))
        .route("/tokens", get(accounts::tokens).post(accounts::create_token))
        .route("/tokens/{id}", delete(accounts::revoke_token))
        .route("/users", get(accounts::users).post(accounts::create_user))
        .route("/users/{id}/disable", post(accounts::disable_user))
        .route("/users/{id}/enable", post(accounts::enable_user))
        .route("/users/{id}/password", post(accounts::reset_password))
        .route("/organisations", get(accounts::organisations))
        .route(
            "/imports/{kind}",
            post(imports::create).layer(DefaultBodyLimit::max(
                usize::try_from(state.settings.import_bytes_max).unwrap_or(usize::MAX).saturating_add(1024 * 1024),
            )),
        )
        .route("/imports", get(imports::history))
        .route("/imports/progress/{id}", get(imports::progress))
        .route("/places/towns", get(places::towns))
        .route("/places/roads", get(places::roads))
        .route("/roads/locate", get(places::locate_point))
        .route("/roads/{route}/locate", get(places::locate_stake))
        .fallback(|| async { Error::NotFound("no such API route; see README.md for the API".into()) });

    // Pages change with every deploy: browsers must revalidate them.
    let pages = ServeDir::new(&web_dir)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(web_dir.join("404.html")));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{id}", get(ogc::collection))
        .route("/ogc/collections/{id}/items", get(ogc::items))
        .route("/ogc/collections/{id}/items/{feature}", get(ogc::item))
        .route(
            "/tiles/{layer}/{z}/{x}/{y}",
            get(tiles::tile).layer(axum::Extension(Arc::new(tiles::TileCache::new(state.settings.tile_cache_bytes)))),
        )
        .nest("/api/v1", api)
        .nest_service("/vendor/maplibre-gl", ServeDir::new(maplibre))
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
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        // gzip or br as the client accepts: GeoJSON, pages and MapLibre shrink 5–10×. Responses that come
        // compressed already (tiles) and images pass through as they are.
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
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
