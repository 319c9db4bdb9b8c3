//! The inspection page's service worker, `/sw.js`, with the release it installs (issue 10, item 1).
//!
//! A release is the set of files the inspection page needs, each with its SHA-256: `inspect.html`, every
//! file it links (`src="/…"`, `href="/…"`), every module those import (`from './x.js'`, `import('./x.js')`),
//! and the icons the web app manifest names. Its id is a SHA-256 over the paths and hashes. `web/sw.js` is a
//! template: `/sw.js` is served with the id and the file list written into it, so a change to any of these
//! files is a changed worker, which the browser installs beside the running one (the page then offers to
//! switch). The worker checks every file it fetches against its hash and installs nothing if one differs, so
//! what it keeps is one release, never a mix of old and new modules.
//!
//! The release is worked out from the files when `/sw.js` is asked for (a few dozen small files), so files
//! replaced under a running server make a new release too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{AppState, Error};

/// The page the release is made for.
const ROOT: &str = "/inspect.html";
/// Where the worker template says what it installs.
const RELEASE_MARK: &str = "'__RELEASE__'";
const FILES_MARK: &str = "'__FILES__'";
/// Bounds on the walk: how many files a release holds and how large one may be.
const FILES_MAX: usize = 200;
const FILE_BYTES_MAX: u64 = 8 * 1024 * 1024;

/// One release: its id and `path → SHA-256 (hex)` of every file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: String,
    pub files: BTreeMap<String, String>,
}

/// The release of the files under `web_dir`, starting from the inspection page.
pub fn release(web_dir: &Path) -> std::io::Result<Release> {
    let mut files = BTreeMap::new();
    let mut queue = vec![ROOT.to_owned(), "/manifest.webmanifest".to_owned()];
    while let Some(path) = queue.pop() {
        if files.contains_key(&path) || files.len() >= FILES_MAX {
            continue;
        }
        let Some(file) = local_file(web_dir, &path) else { continue };
        let Ok(meta) = std::fs::metadata(&file) else { continue };
        if !meta.is_file() || meta.len() > FILE_BYTES_MAX {
            continue;
        }
        let bytes = std::fs::read(&file)?;
        files.insert(path.clone(), hex::encode(Sha256::digest(&bytes)));
        if let Ok(text) = std::str::from_utf8(&bytes) {
            for link in links(&path, text) {
                queue.push(link);
            }
        }
    }
    let mut all = Sha256::new();
    for (path, hash) in &files {
        all.update(path.as_bytes());
        all.update([0]);
        all.update(hash.as_bytes());
        all.update([0]);
    }
    let id = hex::encode(&all.finalize()[..8]);
    Ok(Release { id, files })
}

/// The file under `web_dir` for a served path, if it is one of ours (no `..`, nothing from node_modules).
fn local_file(web_dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = path.strip_prefix('/')?;
    let plain = !relative.is_empty()
        && relative.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'))
        && !relative.starts_with("node_modules/")
        && !relative.starts_with("vendor/");
    plain.then(|| web_dir.join(relative))
}

/// The local paths a file names: links and scripts of a page, imports of a module, icons of a manifest.
fn links(from: &str, text: &str) -> Vec<String> {
    let markers: &[&str] = if from.ends_with(".html") {
        &["src=\"", "href=\""]
    } else if from.ends_with(".js") {
        &["from '", "from \"", "import('", "import(\"", "import '", "import \""]
    } else if from.ends_with(".webmanifest") {
        &["\"src\": \"", "\"src\":\""]
    } else {
        &[]
    };
    let dir = from.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut found = Vec::new();
    for marker in markers {
        let quote = marker.chars().last().unwrap_or('"');
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let Some(end) = rest.find(quote) else { continue };
            let target = &rest[..end];
            let target = target.split(['?', '#']).next().unwrap_or_default();
            let path = if target.starts_with('/') && !target.starts_with("//") {
                target.to_owned()
            } else if let Some(relative) = target.strip_prefix("./") {
                format!("{dir}/{relative}")
            } else {
                continue;
            };
            found.push(path);
        }
    }
    found
}

/// `GET /sw.js`: the worker with its release written in.
pub async fn service_worker(State(state): State<AppState>) -> Result<Response, Error> {
    let web_dir = state.settings.web_dir.clone();
    let (template, release) = tokio::task::spawn_blocking(move || {
        let template = std::fs::read_to_string(web_dir.join("sw.js"))?;
        Ok::<_, std::io::Error>((template, release(&web_dir)?))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(|e| Error::Internal(e.into()))?;
    let files = serde_json::to_string(&release.files).map_err(|e| Error::Internal(e.into()))?;
    let body = template.replace(RELEASE_MARK, &format!("'{}'", release.id)).replace(FILES_MARK, &files);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_pages_modules_and_manifests() {
        let page = r#"<link rel="manifest" href="/manifest.webmanifest"><script type="module" src="/inspect.js"></script><a href="https://x.org/">"#;
        assert_eq!(links("/inspect.html", page), ["/inspect.js", "/manifest.webmanifest"]);
        let module = "import { a } from './common.js';\nimport zh from './locales/zh-CN.js';\nconst m = await import('./draft.js');";
        assert_eq!(links("/inspect.js", module), ["/common.js", "/locales/zh-CN.js", "/draft.js"]);
        assert_eq!(links("/locales/x.js", "import a from './b.js';"), ["/locales/b.js"]);
        let manifest = r#"{"icons": [{"src": "/icons/icon-192.png"}]}"#;
        assert_eq!(links("/manifest.webmanifest", manifest), ["/icons/icon-192.png"]);
    }

    #[test]
    fn only_our_own_files_are_read() {
        let dir = Path::new("web");
        assert!(local_file(dir, "/inspect.js").is_some());
        for path in ["/../secret", "/node_modules/x.js", "/vendor/maplibre-gl/maplibre-gl.mjs", "relative", "/a//b"] {
            assert!(local_file(dir, path).is_none(), "{path}");
        }
    }
}
