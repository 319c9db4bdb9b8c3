//! The Zhangjiagang demo dataset (synthetic).

use sqlx::PgPool;

use crate::photos::PhotoStore;

pub async fn load_if_empty(_pool: &PgPool, _photos: &PhotoStore) -> anyhow::Result<()> {
    Ok(())
}
