//! County data import over HTTP, for the admin page: `POST /imports/{kind}` uploads a file (or a shapefile's
//! parts) with its options and runs the same import as `roadledger import`; a dry run is the page's preview.
//! `GET /imports` is the history, `GET /imports/progress/{id}` what a running import is doing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::limits::{BodyPace, UploadBody};
use super::uploads::multipart_error;
use super::{AppState, Error, Result};
use crate::domain::auth::{Actor, Permission};
use crate::import::{self, ImportError, ImportKind, ImportProgress, Importer, OptionsInput};

/// Files in one upload: a shapefile's .shp, .shx, .dbf, .prj, .cpg (and .qix, .sbn … which are ignored).
const FILES_MAX: usize = 12;
const OPTIONS_BYTES_MAX: usize = 16 * 1024;
const FILE_NAME_CHARS_MAX: usize = 128;

/// Imports running in this process, by the id the page chose, so it can show their progress. Weak: an import
/// that ended is gone.
fn running() -> &'static Mutex<HashMap<Uuid, Weak<ImportProgress>>> {
    static RUNNING: OnceLock<Mutex<HashMap<Uuid, Weak<ImportProgress>>>> = OnceLock::new();
    RUNNING.get_or_init(Default::default)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// An id the page makes up to poll `GET /imports/progress/{id}` while the upload runs.
    progress: Option<Uuid>,
}

fn require(actor: &Actor) -> Result<()> {
    if actor.can(Permission::ImportPlaces) {
        Ok(())
    } else {
        Err(Error::Forbidden("importing a county's places needs the admin role".into()))
    }
}

/// The parts of a county file upload (documentation: `create` reads the parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// JSON: `dry_run`, `crs`, `encoding`, `county`, `layer`, `mapping`, `stake_unit`, `osm_highways`.
    #[schema(value_type = Option<Object>)]
    options: Option<serde_json::Value>,
    /// The file (GeoJSON, GeoPackage, OSM PBF, CSV, a zip), or the parts of a shapefile.
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
    /// For roads: the chainage breaks (CSV).
    #[schema(value_type = Option<String>, format = Binary)]
    breaks: Option<Vec<u8>>,
}

/// `POST /api/v1/imports/{kind}`: multipart with an optional `options` part (JSON: dry_run, crs, encoding,
/// county, layer, mapping, stake_unit, osm_highways), one or more `file` parts (one file, or the parts of a
/// shapefile) and, for roads, an optional `breaks` part (CSV). 200 with the report for a dry run or when
/// nothing changed, 201 when the import was applied, 422 with the report's problems when refused.
#[utoipa::path(
    post,
    path = "/imports/{kind}",
    operation_id = "import_places",
    tag = "places",
    params(("kind" = String, Path, description = "`towns`, `roads`, `organisations` or `chainage-breaks`"), ImportQuery),
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "A dry run, or nothing changed: the report", body = Object),
        (status = 201, description = "Applied: the report", body = Object),
        (status = 400, description = "A part is malformed"),
        (status = 404, description = "No such kind of import"),
                (status = 413, description = "The file is larger than the upload limit; use `roadledger import`"),
        (status = 408, description = "The file arrived too slowly (see the upload settings)"),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "The file was read but refused: the report's problems"),
        (status = 507, description = "The server's temporary directory is full"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    UrlPath(kind): UrlPath<String>,
    Query(query): Query<ImportQuery>,
    body: UploadBody,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse> {
    require(&actor)?;
    let kind = match kind.as_str() {
        "towns" => ImportKind::Towns,
        "roads" => ImportKind::Roads,
        "organisations" => ImportKind::Organisations,
        "chainage-breaks" => ImportKind::ChainageBreaks,
        _ => {
            return Err(Error::NotFound(
                "import towns, roads, organisations or chainage-breaks: POST /api/v1/imports/{kind}".into(),
            ));
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("roadledger-import-")
        .tempdir()
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot make a temporary directory: {e}")))?;
    // Registered before the upload arrives, so the page sees it being received.
    let progress = Arc::new(ImportProgress::default());
    progress.set_phase(ImportProgress::RECEIVING);
    if let Some(id) = query.progress {
        let mut running = running().lock().expect("the registry is never poisoned");
        running.retain(|_, p| p.strong_count() > 0);
        running.insert(id, Arc::downgrade(&progress));
    }
    let mut pace = body.pace;
    let upload = receive(multipart, &mut pace, dir.path(), state.settings.import_bytes_max, &progress).await?;
    let file_name = upload.display_name();
    let importer = Importer { name: actor.display_name.clone(), user_id: Some(actor.user_id) };
    let mut options = upload
        .options
        .into_options(&file_name, importer)
        .map_err(|e| Error::refused(StatusCode::UNPROCESSABLE_ENTITY, "import_options", e))?;
    options.breaks = upload.breaks;

    progress.set_phase(ImportProgress::OPENING);
    let result = import::run(&state.pool, kind, &upload.path, &options, progress).await;
    drop(dir);
    match result {
        Ok(report) => {
            let status = if report.applied { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(json!(report))))
        }
        Err(e) => Err(import_error(e)),
    }
}

/// Import errors as the API says them: what the user can fix is a 422 with a stable code.
fn import_error(e: ImportError) -> Error {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match e {
        ImportError::Options(message) => Error::refused(unprocessable, "import_options", message),
        ImportError::Read(e) => Error::Refused {
            status: unprocessable,
            code: "import_unreadable",
            message: e.to_string(),
            facts: json!({ "read_error": e.code() }),
        },
        ImportError::Refused(report) => Error::Refused {
            status: unprocessable,
            code: "import_problems",
            message: format!("{} problem(s) in {}: nothing was imported", report.problems_total, report.file.name),
            facts: json!({ "report": report }),
        },
        ImportError::Database(e) => e.into(),
        ImportError::Internal(e) => Error::Internal(e),
    }
}

/// What an upload carried, written to a temporary directory.
struct Upload {
    options: OptionsInput,
    /// The file to read: the one file, or the directory holding a shapefile's parts.
    path: PathBuf,
    names: Vec<String>,
    breaks: Option<PathBuf>,
}

impl Upload {
    fn display_name(&self) -> String {
        match self.names.as_slice() {
            [one] => one.clone(),
            names => names.iter().find(|n| n.to_ascii_lowercase().ends_with(".shp")).unwrap_or(&names[0]).clone(),
        }
    }
}

/// Streams the parts to disk (never into memory: an OSM extract is hundreds of megabytes, so the upload
/// buffers are not asked for room), within the upload limit and at the upload pace.
async fn receive(
    multipart: std::result::Result<Multipart, MultipartRejection>,
    pace: &mut BodyPace,
    dir: &Path,
    bytes_max: u64,
    progress: &ImportProgress,
) -> Result<Upload> {
    let usage = "send multipart/form-data with one or more parts named \"file\" (with file names), optionally \
                 \"options\" (JSON) and, for roads, \"breaks\" (CSV)";
    let mut multipart = multipart.map_err(|e| Error::BadRequest(format!("{}; {usage}", e.body_text())))?;
    let files_dir = dir.join("files");
    std::fs::create_dir(&files_dir).map_err(|e| Error::Internal(e.into()))?;
    let mut options = OptionsInput::default();
    let mut names = Vec::new();
    let mut breaks = None;
    let mut total = 0u64;
    while let Some(mut field) = pace.next(multipart.next_field()).await?.map_err(multipart_error)? {
        let part = field.name().unwrap_or("").to_owned();
        match part.as_str() {
            "options" => {
                let mut buf = Vec::new();
                while let Some(chunk) = pace.next(field.chunk()).await?.map_err(multipart_error)? {
                    pace.received(chunk.len());
                    if buf.len() + chunk.len() > OPTIONS_BYTES_MAX {
                        return Err(Error::PayloadTooLarge(format!(
                            "the options part is over {OPTIONS_BYTES_MAX} bytes"
                        )));
                    }
                    buf.extend_from_slice(&chunk);
                }
                options = serde_json::from_slice(&buf).map_err(|e| {
                    Error::refused(StatusCode::UNPROCESSABLE_ENTITY, "import_options", format!("options: {e}"))
                })?;
            }
            "file" | "breaks" => {
                let name = safe_file_name(field.file_name().unwrap_or(""))?;
                let path = if part == "breaks" {
                    dir.join(format!("breaks-{name}"))
                } else {
                    if names.len() == FILES_MAX {
                        return Err(Error::BadRequest(format!("at most {FILES_MAX} files in one import")));
                    }
                    if names.iter().any(|n: &String| n.eq_ignore_ascii_case(&name)) {
                        return Err(Error::BadRequest(format!("the file {name} was sent twice")));
                    }
                    names.push(name.clone());
                    files_dir.join(&name)
                };
                let mut out = tokio::fs::File::create(&path).await.map_err(disk_error)?;
                while let Some(chunk) = pace.next(field.chunk()).await?.map_err(multipart_error)? {
                    pace.received(chunk.len());
                    total += chunk.len() as u64;
                    if total > bytes_max {
                        return Err(Error::PayloadTooLarge(format!(
                            "the upload is larger than the limit of {bytes_max} bytes; import larger files with `roadledger import`"
                        )));
                    }
                    out.write_all(&chunk).await.map_err(disk_error)?;
                    progress.done.store(total, std::sync::atomic::Ordering::Relaxed);
                }
                out.flush().await.map_err(disk_error)?;
                if part == "breaks" {
                    breaks = Some(path);
                }
            }
            other => {
                return Err(Error::BadRequest(format!(
                    "unexpected part {:?}; {usage}",
                    other.chars().take(64).collect::<String>()
                )));
            }
        }
    }
    let path = match names.as_slice() {
        [] => return Err(Error::BadRequest(format!("no file; {usage}"))),
        [one] => files_dir.join(one),
        // Several files are the parts of one shapefile: the reader takes their folder.
        _ => files_dir,
    };
    Ok(Upload { options, path, names, breaks })
}

/// Writing an uploaded file to the temporary directory failed: a full disk is the operator's to fix (507),
/// anything else is ours (500). The directory goes with the request either way.
fn disk_error(e: std::io::Error) -> Error {
    if matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) {
        Error::InsufficientStorage(
            "the server's temporary directory is full: nothing was imported; tell the administrator".into(),
        )
    } else {
        Error::Internal(e.into())
    }
}

/// The last path component of an uploaded file's name, without anything a file system would read as a path.
fn safe_file_name(name: &str) -> Result<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." || base.starts_with('.') {
        return Err(Error::BadRequest("every file part needs a file name, e.g. roads.geojson".into()));
    }
    if base.chars().count() > FILE_NAME_CHARS_MAX || base.chars().any(char::is_control) {
        return Err(Error::BadRequest(format!(
            "file name {:?} is too long or has control characters",
            base.chars().take(32).collect::<String>()
        )));
    }
    Ok(base.to_owned())
}

/// `GET /api/v1/imports/progress/{id}`: what the import started with `?progress=id` is doing.
#[utoipa::path(
    get,
    path = "/imports/progress/{id}",
    operation_id = "import_progress",
    tag = "places",
    params(("id" = String, Path, description = "The id given as `?progress=` to POST /imports/{kind}")),
    responses(
        (status = 200, description = "What the import is doing", body = Object),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No import is running with that id"),
    )
)]
pub async fn progress(actor: Actor, UrlPath(id): UrlPath<Uuid>) -> Result<Json<Value>> {
    require(&actor)?;
    let running = running().lock().expect("the registry is never poisoned");
    match running.get(&id).and_then(Weak::upgrade) {
        Some(progress) => Ok(Json(progress.snapshot())),
        None => Err(Error::NotFound("no import is running with that id (it may have finished)".into())),
    }
}

/// `GET /api/v1/imports`: the imports that changed something, newest first (at most 200).
#[utoipa::path(
    get,
    path = "/imports",
    operation_id = "import_history",
    tag = "places",
    responses(
        (status = 200, description = "The imports that changed something, newest first (at most 200)", body = Object),
    )
)]
pub async fn history(State(state): State<AppState>, actor: Actor) -> Result<impl IntoResponse> {
    require(&actor)?;
    let body = crate::db::places::imports_json(&state.pool, 200).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body))
}
