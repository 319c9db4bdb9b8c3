//! Scriptable provisioning: `roadledger org list|add`, `roadledger user add`, `roadledger token create`.
//! Output goes to standard output (machine-friendly, tab-separated); errors say what to fix.

use anyhow::{Context, bail};
use sqlx::PgPool;

use crate::db::accounts::{self, CreateOutcome, NewUser};
use crate::domain::auth;
use crate::secrets;

const ORGANISATION_KINDS: &[&str] = &[
    "city_office",
    "town",
    "police_brigade",
    "police_squadron",
    "transport_bureau",
    "highway_centre",
    "education_bureau",
    "village_committee",
    "responsible_unit",
    "contractor",
];

/// `id <TAB> kind <TAB> name`, one organisation a line.
pub async fn org_list(pool: PgPool) -> anyhow::Result<()> {
    for org in accounts::organisations(&pool).await? {
        println!("{}\t{}\t{}", org.id, org.kind, org.name);
    }
    Ok(())
}

pub async fn org_add(pool: &PgPool, name: &str, kind: &str, town_admin_code: Option<&str>) -> anyhow::Result<()> {
    if !ORGANISATION_KINDS.contains(&kind) {
        bail!("unknown organisation kind {kind:?}; use one of: {}", ORGANISATION_KINDS.join(", "));
    }
    let town_id: Option<i32> = match town_admin_code {
        Some(code) => Some(
            sqlx::query_scalar("select id from town where admin_code = $1")
                .bind(code)
                .fetch_optional(pool)
                .await?
                .with_context(|| format!("no town with admin code {code}"))?,
        ),
        None => None,
    };
    let id: i32 = sqlx::query_scalar("insert into organisation (name, kind, town_id) values ($1, $2, $3) returning id")
        .bind(name)
        .bind(kind)
        .bind(town_id)
        .fetch_one(pool)
        .await
        .map_err(|e| match e.as_database_error().and_then(|d| d.constraint()) {
            Some("organisation_name_key") => anyhow::anyhow!("an organisation named {name:?} exists already"),
            _ => e.into(),
        })?;
    println!("{id}\t{kind}\t{name}");
    Ok(())
}

pub struct NewAccount {
    pub name: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub org: String,
    pub password: String,
}

/// Creates an account; prints `id <TAB> name`.
pub async fn user_add(pool: &PgPool, new: NewAccount) -> anyhow::Result<()> {
    auth::check_user_name(&new.name).map_err(anyhow::Error::msg)?;
    let roles = auth::parse_roles(&new.roles)?;
    auth::check_password(&new.password, &new.name).map_err(anyhow::Error::msg)?;
    let org = accounts::find_organisation(pool, &new.org)
        .await?
        .with_context(|| format!("no organisation {:?}; see `roadledger org list`", new.org))?;
    let password = new.password;
    let hash = tokio::task::spawn_blocking(move || secrets::hash_password(&password)).await??;
    let user = NewUser {
        name: &new.name,
        display_name: &new.display_name,
        organisation_id: org.id,
        roles: &roles,
        password_hash: &hash,
    };
    match accounts::create_user(pool, &user).await? {
        CreateOutcome::Created(id) => println!("{id}\t{}", new.name),
        CreateOutcome::NameTaken => bail!("the name {:?} is taken", new.name),
        CreateOutcome::NoSuchOrganisation => bail!("no organisation {}", org.id),
    }
    Ok(())
}

/// Creates an API token and prints it: the only time it is ever shown.
pub async fn token_create(pool: &PgPool, user_name: &str, token_name: &str) -> anyhow::Result<()> {
    let user = accounts::user_by_name(pool, user_name).await?.with_context(|| format!("no user {user_name:?}"))?;
    if user.disabled {
        bail!("the account {user_name:?} is disabled");
    }
    let token = secrets::random_token("rl_");
    accounts::create_token(pool, user.id, token_name, &token).await?;
    println!("{token}");
    Ok(())
}
