//! Photo storage: originals byte for byte and thumbnails, content-addressed, behind `object_store`.
//!
//! Keys are derived from the SHA-256 of the original (`original/ab/abcd….jpg`, `thumbnail/ab/abcd….jpg`),
//! so writing the same photo twice is harmless and a retried upload never duplicates a file. The store is
//! a local directory by default; any `object_store` backend (S3-compatible, in-memory) fits the same type.

pub mod process;

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub use process::{PhotoError, PhotoLimits, ProcessedPhoto};

#[derive(Clone, Debug)]
pub struct PhotoStore {
    store: Arc<dyn ObjectStore>,
}

impl PhotoStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        PhotoStore { store }
    }

    /// A store in a local directory, created if missing.
    pub fn local(dir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(PhotoStore::new(Arc::new(store)))
    }

    pub fn original_key(sha256_hex: &str, extension: &str) -> String {
        format!("original/{}/{sha256_hex}.{extension}", &sha256_hex[..2])
    }

    pub fn thumbnail_key(sha256_hex: &str) -> String {
        format!("thumbnail/{}/{sha256_hex}.jpg", &sha256_hex[..2])
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store.put(&StorePath::from(key), PutPayload::from_bytes(bytes)).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.store.get(&StorePath::from(key)).await?.bytes().await
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
}
