//! Shared by the benchmarks: an account with an API token, so requests pay for authentication like a real
//! client's.

use roadledger::db::accounts;
use roadledger::domain::auth::Role;

/// A live API token of a `bench-<role>` account (created on first use, with an organisation if none exists).
pub async fn bench_token(pool: &sqlx::PgPool, role: Role) -> String {
    let name = format!("bench-{}", role.as_str().replace('_', "-"));
    let user = match accounts::user_by_name(pool, &name).await.unwrap() {
        Some(user) => user.id,
        None => {
            let org: i32 = sqlx::query_scalar(
                "with new as (insert into organisation (name, kind) select '基准测试', 'city_office'
                              where not exists (select 1 from organisation) returning id)
                 select id from new union all select id from organisation order by id limit 1",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            let hash = roadledger::secrets::hash_password("bench password 2026").unwrap();
            let new = accounts::NewUser {
                name: &name,
                display_name: "基准测试",
                organisation_id: org,
                roles: &[role],
                password_hash: &hash,
            };
            match accounts::create_user(pool, &new).await.unwrap() {
                accounts::CreateOutcome::Created(id) => id,
                _ => panic!("cannot create the bench account {name}"),
            }
        }
    };
    let token = roadledger::secrets::random_token("rl_");
    accounts::create_token(pool, user, "bench", &token).await.unwrap();
    token
}
