//! Photos on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, Alibaba OSS, …), and the choice between it
//! and a local directory that every command makes the same way.
//!
//! The operator names the place as `s3://bucket/prefix` (`--photo-store`); how to reach it (keys, region,
//! endpoint, plain HTTP for a store on the same host) comes from the standard `AWS_*` variables that
//! `object_store` reads, so nothing secret is ever a command-line argument.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};

use super::PhotoStore;

/// A bucket name's longest form (S3's rule; MinIO and Ceph follow it).
const BUCKET_CHARS_MAX: usize = 63;
/// A prefix's longest form: keys below it add about 90 bytes, and S3 keys end at 1024.
const PREFIX_BYTES_MAX: usize = 512;

/// How long a photo store request may go on retrying before its error is the answer. `object_store`'s default,
/// three minutes, would hold an upload (and its phone) that long during an outage; 15 s rides out a restart
/// of the store or a dropped connection.
const RETRY_TIMEOUT: Duration = Duration::from_secs(15);

/// The longest a request to the store may take in all, body included (humantime text, as `object_store` reads it).
const REQUEST_TIMEOUT: &str = "1h";
/// The longest the store may keep us waiting for the next bytes of an answer.
const READ_TIMEOUT: &str = "30s";

/// `s3://bucket/prefix`: a bucket and, optionally, the folder in it that holds the photo store's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; `None` for the bucket's top level.
    pub prefix: Option<String>,
}

impl FromStr for S3Location {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{text:?} is not an s3:// URL; write s3://BUCKET or s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket)?;
        let prefix = prefix.trim_matches('/');
        if prefix.len() > PREFIX_BYTES_MAX {
            return Err(format!("the prefix is longer than {PREFIX_BYTES_MAX} bytes"));
        }
        // The prefix becomes the first segments of every key: plain segments only, as the keys below it are.
        let plain = |segment: &str| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        if !prefix.is_empty() && !prefix.split('/').all(plain) {
            return Err(format!(
                "the prefix {prefix:?} must be folder names of letters, digits, '.', '_' and '-' separated by '/'"
            ));
        }
        Ok(S3Location { bucket: bucket.to_owned(), prefix: (!prefix.is_empty()).then(|| prefix.to_owned()) })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.prefix {
            Some(prefix) => write!(f, "s3://{}/{prefix}", self.bucket),
            None => write!(f, "s3://{}", self.bucket),
        }
    }
}

/// S3's bucket naming rules, enough to catch a typo before the first request: 3–63 characters of lowercase
/// letters, digits, '.' and '-', starting and ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let fine = (3..=BUCKET_CHARS_MAX).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if fine {
        Ok(())
    } else {
        Err(format!(
            "{bucket:?} is not a bucket name: 3–{BUCKET_CHARS_MAX} lowercase letters, digits, '.' and '-', \
             starting and ending with a letter or digit"
        ))
    }
}

impl PhotoStore {
    /// The store at `location`, reached as the `AWS_*` variables say: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` (for a store other than AWS's), `AWS_ALLOW_HTTP`
    /// (`true` for an endpoint without TLS) and the others `object_store` knows. No request is made here:
    /// `/readyz` and the first upload find out whether the store answers.
    pub fn s3(location: &S3Location) -> anyhow::Result<Self> {
        Self::s3_with(AmazonS3Builder::from_env(), location)
    }

    /// The store at `location` through a builder set up by the caller (the tests give their own endpoint and
    /// keys rather than the process's environment).
    pub fn s3_with(builder: AmazonS3Builder, location: &S3Location) -> anyhow::Result<Self> {
        let s3 = builder
            .with_bucket_name(&location.bucket)
            .with_retry(RetryConfig { backoff: BackoffConfig::default(), max_retries: 3, retry_timeout: RETRY_TIMEOUT })
            // A photo is served as the browser reads it (`http::photos`), so the store's answer lasts as long as
            // the slowest phone takes: the client's default 30 s for a whole request, body included, would cut a
            // 15 MiB original short on a slow line. A store that stops sending is caught by the read timeout,
            // which starts again with every chunk that arrives.
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), REQUEST_TIMEOUT)
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ReadTimeout), READ_TIMEOUT)
            .build()
            .with_context(|| format!("cannot set up the photo store {location}"))?;
        let store: Arc<dyn ObjectStore> = match &location.prefix {
            Some(prefix) => Arc::new(PrefixStore::new(s3, prefix.as_str())),
            None => Arc::new(s3),
        };
        Ok(PhotoStore::new(store))
    }

    /// The photo store the settings name: `--photo-store` (S3) or `--photo-dir`, never both; with neither, the
    /// local directory `default_dir`. Every command that reads or writes photos (serve, backup, restore) opens
    /// its store here, so they all agree on where the photos are.
    pub fn open(
        photo_dir: Option<&Path>,
        photo_store: Option<&S3Location>,
        default_dir: impl FnOnce() -> PathBuf,
    ) -> anyhow::Result<Self> {
        match (photo_dir, photo_store) {
            (Some(dir), Some(s3)) => bail!(
                "both --photo-dir ({}) and --photo-store ({s3}) are set (or ROADLEDGER_PHOTO_DIR and \
                 ROADLEDGER_PHOTO_STORE): photos are kept in one store, give only one of them",
                dir.display()
            ),
            (None, Some(s3)) => {
                tracing::info!(photo_store = %s3, "photos are kept in S3-compatible object storage");
                Self::s3(s3)
            }
            (dir, None) => {
                let dir = dir.map_or_else(default_dir, Path::to_path_buf);
                tracing::info!(photo_dir = %dir.display(), "photos are kept in a local directory");
                Self::local(&dir).with_context(|| format!("cannot open the photo store {}", dir.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_name_a_bucket_and_an_optional_prefix() {
        let parse = |s: &str| s.parse::<S3Location>();
        assert_eq!(parse("s3://photos"), Ok(S3Location { bucket: "photos".into(), prefix: None }));
        assert_eq!(parse("s3://photos/"), Ok(S3Location { bucket: "photos".into(), prefix: None }));
        assert_eq!(
            parse("s3://county-320582/roadledger/photos/"),
            Ok(S3Location { bucket: "county-320582".into(), prefix: Some("roadledger/photos".into()) })
        );
        assert_eq!(parse("s3://a.b-c/x").unwrap().to_string(), "s3://a.b-c/x");
        for bad in [
            "photos",
            "http://photos",
            "s3://",
            "s3://ab",
            "s3://Photos",
            "s3://-photos",
            "s3://photos_2",
            "s3://photos/a//b",
            "s3://photos/../b",
            "s3://photos/a b",
            "s3://photos/照片",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&format!("s3://photos/{}", "a".repeat(600))).unwrap_err().contains("longer than"));
        assert!(parse("file:///srv").unwrap_err().contains("s3://BUCKET"));
    }

    #[test]
    fn one_store_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let s3: S3Location = "s3://photos/p".parse().unwrap();
        let both = PhotoStore::open(Some(dir.path()), Some(&s3), || unreachable!()).unwrap_err();
        assert!(both.to_string().contains("both --photo-dir"), "{both}");
        // The client's settings are checked when the store is built, without a request.
        let builder = AmazonS3Builder::new().with_region("us-east-1").with_endpoint("http://127.0.0.1:1");
        PhotoStore::s3_with(builder, &s3).unwrap();
        // Neither: the default directory, created.
        let default = dir.path().join("photos");
        PhotoStore::open(None, None, || default.clone()).unwrap();
        assert!(default.is_dir());
    }
}
