//! Multipart uploads with photos, shared by observations (before-photos) and checklist evidence (after- and
//! night-photos): read every part within its limit, its pace and the upload buffers (`http::limits`), verify
//! declared hashes, decode and thumbnail off the async runtime, store the files content-addressed.
//!
//! A photo store that fails part-way (a full disk) must not keep what this upload wrote: the files it
//! created are deleted again, unless another upload in this process has claimed the same key since (same
//! photo, same key), so no file is left that no row will ever name, and no row is left without its file.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};

use super::limits::UploadBody;
use super::{AppState, Error, Result};
use crate::db::photos::NewPhoto;
use crate::domain::observation::SiteGeometry;
use crate::domain::photo_evidence::{self, FileExif, PhotoEvidence};
use crate::photos::PhotoStore;
use crate::photos::process::{self, PhotoError, ProcessedPhoto};

/// The JSON part is small; anything bigger is a mistake.
const JSON_PART_BYTES_MAX: usize = 256 * 1024;

/// What a multipart request carried: its one JSON part and its photos with their part names, in order.
pub struct Upload {
    pub json: Bytes,
    pub photos: Vec<(String, Bytes)>,
}

impl Upload {
    /// The bytes of its parts (the JSON and every photo), for `/metrics`.
    pub fn bytes(&self) -> u64 {
        (self.json.len() + self.photos.iter().map(|(_, p)| p.len()).sum::<usize>()) as u64
    }
}

/// Reads exactly one JSON part named `json_name` and up to `photos_max` photo parts named one of
/// `photo_names`, each within `photo_bytes_max`, at `body`'s pace and within its room in the upload buffers.
pub async fn read(
    multipart: std::result::Result<Multipart, MultipartRejection>,
    body: &mut UploadBody,
    json_name: &str,
    photo_names: &[&str],
    photos_max: usize,
    photo_bytes_max: usize,
) -> Result<Upload> {
    let usage = format!(
        "send multipart/form-data with one part named \"{json_name}\" (JSON) and zero or more named {}",
        photo_names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" or ")
    );
    let mut multipart = multipart.map_err(|e| Error::BadRequest(format!("{}; {usage}", e.body_text())))?;
    let mut json: Option<Bytes> = None;
    let mut photos = Vec::new();
    while let Some(field) = body.pace.next(multipart.next_field()).await?.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        if name == json_name {
            if json.is_some() {
                return Err(Error::BadRequest(format!("send exactly one part named \"{json_name}\"")));
            }
            json = Some(read_part(field, body, JSON_PART_BYTES_MAX, &format!("the {json_name} part")).await?);
        } else if photo_names.contains(&name.as_str()) {
            if photos.len() == photos_max {
                return Err(Error::PayloadTooLarge(format!("at most {photos_max} photos per request")));
            }
            let what = format!("photo {}", photos.len() + 1);
            photos.push((name, read_part(field, body, photo_bytes_max, &what).await?));
        } else {
            return Err(Error::BadRequest(format!(
                "unexpected part {:?}; {usage}",
                name.chars().take(64).collect::<String>()
            )));
        }
    }
    let json = json.ok_or_else(|| Error::BadRequest(format!("the part named \"{json_name}\" (JSON) is missing")))?;
    Ok(Upload { json, photos })
}

/// Checks each stored photo against the record it documents (its place and time) and keeps what its original
/// said (`evidence`, one entry per photo, from the client's `photo_evidence`): a photo far away or days off is
/// flagged for a reviewer, never refused; where the county requires originals, a file of another size than
/// the original the client read is flagged too. Observations and remediation evidence go through here alike.
pub fn flag_photos(
    state: &AppState,
    photos: &mut [NewPhoto],
    evidence: Option<&[PhotoEvidence]>,
    place: &SiteGeometry,
    at: DateTime<Utc>,
) {
    for (i, photo) in photos.iter_mut().enumerate() {
        let original = evidence.and_then(|e| e.get(i).cloned());
        let file = FileExif { taken_local: photo.exif_taken_at, location: photo.exif_location };
        photo.evidence_flags = photo_evidence::check(original.as_ref(), file, place, at);
        if state.settings.require_original_photos {
            let bytes = u64::try_from(photo.bytes).unwrap_or(0);
            photo.evidence_flags.extend(photo_evidence::check_original(original.as_ref(), bytes));
        }
        photo.original = original;
    }
}

/// Checks, thumbnails and stores photos; the first bad one refuses the whole request before anything is
/// recorded. The keys written are claimed in `body` until the handler returns (after its transaction).
pub async fn process_and_store(state: &AppState, body: &mut UploadBody, photos: Vec<Bytes>) -> Result<Vec<NewPhoto>> {
    let limits = state.settings.photo_limits;
    let processed = tokio::task::spawn_blocking(move || {
        photos
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                let started = std::time::Instant::now();
                let processed = process::process(&bytes, limits);
                crate::metrics::METRICS.photo_process.observe_duration(started.elapsed());
                processed.map(|p| (p, bytes)).map_err(|e| (i, e))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(|(i, e)| photo_error(i, e))?;
    let mut stored = Vec::with_capacity(processed.len());
    // The keys this upload created (they were not in the store before): its own to take back on failure.
    let mut created = Vec::new();
    for (photo, original) in processed {
        match store_photo(&state.photos, &mut body.claims, &mut created, &photo, original).await {
            Ok(new) => stored.push(new),
            Err(e) => {
                take_back(&state.photos, &created).await;
                return Err(e.into());
            }
        }
    }
    Ok(stored)
}

/// Reads one part, refusing it as soon as it passes its limit (the rest is never buffered), or when it
/// comes too slowly or the upload buffers have no room for it.
pub(super) async fn read_part(
    mut field: Field<'_>,
    body: &mut UploadBody,
    bytes_max: usize,
    what: &str,
) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.pace.next(field.chunk()).await?.map_err(multipart_error)? {
        body.pace.received(chunk.len());
        if buf.len() + chunk.len() > bytes_max {
            return Err(Error::PayloadTooLarge(format!("{what} is larger than the limit of {bytes_max} bytes")));
        }
        body.buffered.grow(chunk.len()).await?;
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A file import's parts: one file part named `file` (with a file name of 1–`name_chars_max` characters,
/// within `file_bytes_max`) and short text parts named in `option_names` (each within 16 KiB), read at
/// `body`'s pace. `usage` says what to send, in every refusal. Shared by the crash and hotline imports.
pub(super) async fn file_and_options(
    mut multipart: Multipart,
    body: &mut UploadBody,
    file_bytes_max: usize,
    name_chars_max: usize,
    option_names: &[&str],
    usage: &str,
) -> Result<((String, Vec<u8>), std::collections::HashMap<String, String>)> {
    const OPTION_PART_BYTES_MAX: usize = 16 * 1024;
    let (mut file, mut texts) = (None, std::collections::HashMap::new());
    while let Some(field) = body.pace.next(multipart.next_field()).await?.map_err(multipart_error)? {
        let part = field.name().unwrap_or("").to_owned();
        if part == "file" {
            if file.is_some() {
                return Err(Error::BadRequest("send one file per import".into()));
            }
            let name = field.file_name().unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("").trim().to_owned();
            if name.is_empty() || name.chars().count() > name_chars_max || name.chars().any(char::is_control) {
                return Err(Error::BadRequest(format!(
                    "the file part needs a file name of 1–{name_chars_max} characters, e.g. export.csv"
                )));
            }
            let bytes = read_part(field, body, file_bytes_max, "the file").await?;
            file = Some((name, bytes.to_vec()));
        } else if option_names.contains(&part.as_str()) {
            let bytes = read_part(field, body, OPTION_PART_BYTES_MAX, &format!("the {part} part")).await?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| Error::BadRequest(format!("the {part} part is not UTF-8 text")))?;
            texts.insert(part, text);
        } else {
            return Err(Error::BadRequest(format!(
                "unexpected part {:?}; {usage}",
                part.chars().take(64).collect::<String>()
            )));
        }
    }
    let file = file.ok_or_else(|| Error::BadRequest(format!("no file; {usage}")))?;
    Ok((file, texts))
}

/// A `dry_run` part: `true`/`1` or `false`/`0`/empty/absent.
pub(super) fn dry_run(text: Option<&str>) -> Result<bool> {
    match text.map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(Error::BadRequest("dry_run is true or false".into())),
    }
}

/// How many uploads in this process hold a key between writing its file and the end of their request, and
/// whether more than one ever did (then the file is never taken back: another upload may have recorded it).
#[derive(Debug)]
struct KeyClaim {
    uploads: usize,
    shared: bool,
}

static CLAIMS: Mutex<BTreeMap<String, KeyClaim>> = Mutex::new(BTreeMap::new());
/// Held while files are taken back, and while a key is claimed: a key cannot be claimed (and its file
/// written again) half-way through the check-then-delete of another upload's failure.
static TAKING_BACK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The store keys one request has claimed; released when it is dropped, at the end of the request.
#[derive(Debug, Default)]
pub struct Claims(Vec<String>);

impl Claims {
    async fn claim(&mut self, key: &str) {
        let _taking_back = TAKING_BACK.lock().await;
        let mut claims = CLAIMS.lock().expect("the claims are never poisoned");
        claims
            .entry(key.to_owned())
            .and_modify(|c| {
                c.uploads += 1;
                c.shared = true;
            })
            .or_insert(KeyClaim { uploads: 1, shared: false });
        self.0.push(key.to_owned());
    }
}

impl Drop for Claims {
    fn drop(&mut self) {
        let mut claims = CLAIMS.lock().expect("the claims are never poisoned");
        for key in self.0.drain(..) {
            if let Some(claim) = claims.get_mut(&key) {
                claim.uploads -= 1;
                if claim.uploads == 0 {
                    claims.remove(&key);
                }
            }
        }
    }
}

/// Deletes the files an upload created before it failed, except those another upload has claimed too.
/// A delete that fails is logged: the file stays unreferenced (the case the invariant allows), never a row
/// without its file.
async fn take_back(store: &PhotoStore, created: &[String]) {
    let _taking_back = TAKING_BACK.lock().await;
    let ours: Vec<&String> = {
        let claims = CLAIMS.lock().expect("the claims are never poisoned");
        created.iter().filter(|key| claims.get(*key).is_some_and(|c| c.uploads == 1 && !c.shared)).collect()
    };
    for key in ours {
        if let Err(e) = store.delete(key).await {
            tracing::warn!(error = %e, key, "cannot delete a file of a failed upload");
        }
    }
}

pub(super) fn multipart_error(e: axum::extract::multipart::MultipartError) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge(format!("the request is too large: {}", e.body_text()))
    } else {
        Error::BadRequest(format!("the multipart body cannot be read: {}", e.body_text()))
    }
}

/// A phone that declares its photos' SHA-256 gets a guarantee: a photo cut short in transit is refused
/// (and can be sent again) instead of being stored as a grey-bottomed picture.
pub fn verify_declared_hashes(declared: Option<&[String]>, actual: &[[u8; 32]]) -> Result<()> {
    let Some(declared) = declared else {
        return Ok(());
    };
    if declared.len() != actual.len() {
        return Err(Error::BadRequest(format!(
            "photo_sha256 lists {} hashes but {} photo parts arrived; the upload was probably cut short, send it again",
            declared.len(),
            actual.len()
        )));
    }
    for (i, (declared, actual)) in declared.iter().zip(actual).enumerate() {
        let actual = hex::encode(actual);
        if !declared.eq_ignore_ascii_case(&actual) {
            return Err(Error::BadRequest(format!(
                "photo {}: its SHA-256 is {actual} but photo_sha256[{i}] declares {:?}; the photo was damaged or \
                 cut short in transit, send it again",
                i + 1,
                declared.chars().take(80).collect::<String>()
            )));
        }
    }
    Ok(())
}

pub(super) fn photo_error(index: usize, e: PhotoError) -> Error {
    let message = format!("photo {}: {e}", index + 1);
    match e {
        PhotoError::UnsupportedFormat { .. } => Error::UnsupportedMediaType(message),
        PhotoError::TooLarge { .. } => Error::PayloadTooLarge(message),
        PhotoError::TooManyPixels { .. } | PhotoError::Corrupt(_) => Error::Unprocessable(message),
        PhotoError::Truncated => Error::BadRequest(message),
    }
}

/// Writes one file under `key`, claimed first; `created` gets the key when it was not in the store before.
async fn store_keyed(
    store: &PhotoStore,
    claims: &mut Claims,
    created: &mut Vec<String>,
    key: &str,
    bytes: Bytes,
) -> std::result::Result<(), object_store::Error> {
    claims.claim(key).await;
    let existed = store.exists(key).await?;
    store.put(key, bytes).await?;
    if !existed {
        created.push(key.to_owned());
    }
    Ok(())
}

/// Stores files under their keys for one upload, with the same claims and the same taking back on failure
/// as [`process_and_store`] (the citizen page's photos: original, public copy and thumbnail).
pub(super) async fn store_files(state: &AppState, body: &mut UploadBody, files: Vec<(String, Bytes)>) -> Result<()> {
    let mut created = Vec::new();
    for (key, bytes) in files {
        if let Err(e) = store_keyed(&state.photos, &mut body.claims, &mut created, &key, bytes).await {
            take_back(&state.photos, &created).await;
            return Err(e.into());
        }
    }
    Ok(())
}

/// Writes one photo's original and thumbnail, each key claimed first; `created` gets the keys that were
/// not in the store before.
async fn store_photo(
    store: &PhotoStore,
    claims: &mut Claims,
    created: &mut Vec<String>,
    p: &ProcessedPhoto,
    original: Bytes,
) -> std::result::Result<NewPhoto, object_store::Error> {
    let sha = p.sha256_hex();
    let original_key = PhotoStore::original_key(&sha, p.format.extension());
    let thumbnail_key = PhotoStore::thumbnail_key(&sha);
    for (key, bytes) in [(&original_key, original), (&thumbnail_key, Bytes::from(p.thumbnail_jpeg.clone()))] {
        store_keyed(store, claims, created, key, bytes).await?;
    }
    let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    Ok(NewPhoto {
        sha256: p.sha256,
        content_type: p.format.content_type(),
        bytes: i32::try_from(p.bytes).unwrap_or(i32::MAX),
        width: int(p.width),
        height: int(p.height),
        exif_taken_at: p.exif.taken_at,
        exif_location: p.exif.location,
        exif_direction_deg: p.exif.direction_deg.map(|d| d as f32),
        exif_orientation: p.exif.orientation.map(|o| o as i16),
        original_key,
        thumbnail_key,
        thumbnail_width: int(p.thumbnail_width),
        thumbnail_height: int(p.thumbnail_height),
        original: None,
        evidence_flags: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed upload takes back a file it created alone, but never one another upload claimed meanwhile
    /// (the same photo sent twice at once: the other may be committing a row that names it).
    #[tokio::test]
    async fn a_failed_upload_takes_back_only_the_files_no_other_upload_claimed() {
        let store = PhotoStore::new(std::sync::Arc::new(object_store::memory::InMemory::new()));
        let (alone, shared) = ("original/aa/alone.jpg", "original/bb/shared.jpg");
        let mut failing = Claims::default();
        failing.claim(alone).await;
        failing.claim(shared).await;
        store.put(alone, Bytes::from_static(b"a")).await.unwrap();
        store.put(shared, Bytes::from_static(b"b")).await.unwrap();
        let mut other = Claims::default();
        other.claim(shared).await;
        drop(other);

        take_back(&store, &[alone.to_owned(), shared.to_owned()]).await;
        assert!(!store.exists(alone).await.unwrap());
        assert!(store.exists(shared).await.unwrap(), "a key another upload claimed stays");
        drop(failing);
        assert!(CLAIMS.lock().unwrap().is_empty(), "claims end with their requests");
    }
}

/// Fuzzing (issue 14): the project's own part handling, [`read`], driven through axum's `Multipart` extractor
/// with random bodies; no database is involved. See `crate::fuzz_tests` for the budget.
#[cfg(test)]
mod fuzz_tests {
    use arbitrary::{Result, Unstructured};
    use axum::body::Body;
    use axum::extract::FromRequest;
    use axum::http::Request;

    use super::*;

    const BOUNDARY: &str = "roadledger-fuzz";
    const PHOTOS_MAX: usize = 3;
    const PHOTO_BYTES_MAX: usize = 64;

    /// A multipart body: parts named as the handler expects or not, random contents, sometimes cut short or
    /// with random bytes in place of the framing.
    fn multipart_body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        for _ in 0..u.int_in_range(0..=5)? {
            let name = match u.int_in_range(0..=3)? {
                0 => "observation".to_string(),
                1 | 2 => "photo".to_string(),
                _ => u.arbitrary()?,
            };
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
            );
            if u.arbitrary()? {
                body.extend_from_slice(b"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg");
            }
            body.extend_from_slice(b"\r\n\r\n");
            let len = u.int_in_range(0..=PHOTO_BYTES_MAX + 8)?;
            body.extend_from_slice(u.bytes(len.min(u.len()))?);
            body.extend_from_slice(b"\r\n");
        }
        if u.arbitrary()? {
            body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        }
        if u.ratio(1, 4)? {
            let cut = u.int_in_range(0..=body.len())?;
            body.truncate(cut);
        }
        if u.ratio(1, 8)? {
            body = u.arbitrary()?;
        }
        Ok(body)
    }

    #[test]
    fn fuzz_multipart_read_never_panics_and_keeps_its_limits() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let limits = crate::http::limits::UploadLimits::default();
        let buffers = std::sync::Arc::new(crate::http::limits::UploadBuffers::new(&limits));
        crate::fuzz_tests::fuzz("multipart_read", 2048, |u| {
            let body = multipart_body(u)?;
            let request = Request::post("/api/v1/observations")
                .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
                .body(Body::from(body))
                .unwrap();
            let upload = runtime.block_on(async {
                let multipart = Multipart::from_request(request, &()).await;
                let mut body = UploadBody::new(tokio::time::Instant::now(), limits, buffers.clone());
                read(multipart, &mut body, "observation", &["photo"], PHOTOS_MAX, PHOTO_BYTES_MAX).await
            });
            match upload {
                Ok(upload) => {
                    assert!(upload.json.len() <= JSON_PART_BYTES_MAX);
                    assert!(upload.photos.len() <= PHOTOS_MAX);
                    assert!(
                        upload.photos.iter().all(|(name, bytes)| name == "photo" && bytes.len() <= PHOTO_BYTES_MAX)
                    );
                }
                // Bad input is the client's fault: a 4xx, never a 500.
                Err(e) => assert!(matches!(e, Error::BadRequest(_) | Error::PayloadTooLarge(_)), "{e:?}"),
            }
            Ok(())
        });
    }

    #[test]
    fn fuzz_verify_declared_hashes_never_panics() {
        crate::fuzz_tests::fuzz("declared_hashes", 512, |u| {
            let declared: Option<Vec<String>> = u.arbitrary()?;
            let actual: Vec<[u8; 32]> = u.arbitrary()?;
            let outcome = verify_declared_hashes(declared.as_deref(), &actual);
            // Accepted only when nothing was declared or every declared hash is the photo's own.
            if outcome.is_ok()
                && let Some(declared) = declared
            {
                assert_eq!(declared.len(), actual.len());
                assert!(declared.iter().zip(&actual).all(|(d, a)| d.eq_ignore_ascii_case(&hex::encode(a))));
            }
            Ok(())
        });
    }
}
