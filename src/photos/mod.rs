//! Photo storage: originals byte for byte and thumbnails, content-addressed, behind `object_store`.
//!
//! Keys are derived from the SHA-256 of the original (`original/ab/abcd….jpg`, `thumbnail/ab/abcd….jpg`),
//! so writing the same photo twice is harmless and a retried upload never duplicates a file. The store is
//! a local directory by default, or S3-compatible object storage (`s3.rs`); any `object_store` backend fits
//! the same type. A put is atomic per object on both (a local file is written aside and renamed; an S3 object
//! appears whole or not at all), so a reader never sees half a photo.

pub mod process;
pub mod public;
pub mod s3;

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub use process::{PhotoError, PhotoLimits, ProcessedPhoto};
pub use s3::S3Location;

#[derive(Clone, Debug)]
pub struct PhotoStore {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store: `object_store` lists a directory that is gone as an empty one, so
    /// [`PhotoStore::reachable`] looks at the directory itself too.
    local_dir: Option<std::path::PathBuf>,
}

impl PhotoStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        PhotoStore { store, local_dir: None }
    }

    /// A store in a local directory, created if missing.
    pub fn local(dir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(PhotoStore { store: Arc::new(store), local_dir: Some(dir.to_path_buf()) })
    }

    /// Whether the store answers a listing of its top level (for `/readyz`; on S3 one LIST request on the
    /// bucket under the prefix, which also checks the keys and that the bucket exists); `Err` says why not. A
    /// local store's directory must also still be there and readable: one that was removed or unmounted would
    /// otherwise list as empty, and every upload would fail.
    pub async fn reachable(&self) -> Result<(), String> {
        if let Some(dir) = &self.local_dir {
            let mut entries =
                tokio::fs::read_dir(dir).await.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            entries.next_entry().await.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        }
        self.store.list_with_delimiter(None).await.map(|_| ()).map_err(|e| e.to_string())
    }

    pub fn original_key(sha256_hex: &str, extension: &str) -> String {
        format!("original/{}/{sha256_hex}.{extension}", &sha256_hex[..2])
    }

    pub fn thumbnail_key(sha256_hex: &str) -> String {
        format!("thumbnail/{}/{sha256_hex}.jpg", &sha256_hex[..2])
    }

    /// A citizen photo's metadata-free public copy (`photos::public`), keyed by the copy's own SHA-256.
    pub fn public_key(public_sha256_hex: &str) -> String {
        format!("public/{}/{public_sha256_hex}.jpg", &public_sha256_hex[..2])
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store.put(&StorePath::from(key), PutPayload::from_bytes(bytes)).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.store.get(&StorePath::from(key)).await?.bytes().await
    }

    /// Whether the store holds `key` (an error other than "not found" is an error).
    pub async fn exists(&self, key: &str) -> Result<bool, object_store::Error> {
        match self.store.head(&StorePath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        self.store.delete(&StorePath::from(key)).await
    }

    /// Every key in the store, sorted (for `roadledger backup`).
    pub async fn keys(&self) -> Result<Vec<String>, object_store::Error> {
        let mut keys: Vec<String> =
            self.store.list(None).map_ok(|meta| meta.location.to_string()).try_collect().await?;
        keys.sort();
        Ok(keys)
    }

    /// Some key of the store, if it holds anything (a restore goes only into an empty store).
    pub async fn any_key(&self) -> Result<Option<String>, object_store::Error> {
        self.store.list(None).next().await.transpose().map(|meta| meta.map(|m| m.location.to_string()))
    }

    /// An object as a stream of chunks with its size, for serving it without holding it in memory.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, object_store::Error>>), object_store::Error> {
        let result = self.store.get(&StorePath::from(key)).await?;
        Ok((result.meta.size, result.into_stream()))
    }
}

/// Whether a store's error is a full disk or an exhausted quota (ENOSPC, EDQUOT), on whatever backend: the
/// I/O error is looked for down the error's chain of sources, where every `object_store` backend puts it.
pub fn out_of_space(e: &object_store::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(io.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
        {
            return true;
        }
        source = error.source();
    }
    false
}
