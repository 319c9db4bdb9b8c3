//! The Zhangjiagang demo dataset (synthetic): towns, roads, organisations and a season of hazard sites with
//! their checklists, observations, photos and histories, loaded by `roadledger serve --demo`.
//!
//! Everything is generated from a constant seed (`rng`), so every demo database is the same. Generation is
//! pure — `towns` (boundaries), `roads` (network and junctions), `places` (where sites are), `plan` (what
//! each site will go through, and who acts), `story` (each site's moves, every one decided by
//! `domain::lifecycle::transition`, with the checklist, observations, evidence, extension requests,
//! look-backs and events they leave), `ledger` (the stories in ledger-number order), `pictures` (photos) —
//! and `write` does the SQL, in bulk, in one transaction.
//! Towns and stakes are derived by PostGIS from the stored geometry, exactly as for a real observation, so
//! the demo obeys the same rules as live data.
//!
//! Every person the ledger names has an account (`accounts`), which their observations and events carry;
//! nobody can sign in as them. Signing in is for the demo accounts, one per role (`DEMO_ACCOUNTS`).

mod accounts;
mod crashes;
mod detections;
mod hotline;
mod ledger;
mod names;
mod pictures;
mod places;
mod plan;
mod plane;
mod public_reports;
mod rng;
mod roads;
mod story;
mod towns;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::photos::PhotoStore;
use crate::photos::process::{self, PhotoLimits, ProcessedPhoto};

use ledger::{Catalogue, Ledger};
use write::StoredPicture;

/// The demo sign-in accounts, one per role: (name, role, password). The rule for the password: the account
/// name followed by `-2026` (e.g. `demo-leader` / `demo-leader-2026`). The demo creates them with its
/// dataset, and on later starts when they are missing; `print_demo_accounts` shows them at every start.
pub const DEMO_ACCOUNTS: &[(&str, &str, &str)] = &[
    ("demo-inspector", "inspector", "demo-inspector-2026"),
    ("demo-town", "town_officer", "demo-town-2026"),
    ("demo-unit", "unit_officer", "demo-unit-2026"),
    ("demo-dispatcher", "dispatcher", "demo-dispatcher-2026"),
    ("demo-reviewer", "reviewer", "demo-reviewer-2026"),
    ("demo-leader", "leader", "demo-leader-2026"),
    ("demo-admin", "admin", "demo-admin-2026"),
    ("demo-hotline", "hotline", "demo-hotline-2026"),
];

/// The demo's Open311 client system's key, published like the demo passwords so `curl` works against the
/// demo (README, Open311). Only its SHA-256 is stored, as for every key.
pub const DEMO_OPEN311_KEY: &str = "demo-open311-2026";

/// Prints the demo sign-in accounts to standard output (for the person who started the server, not the log).
pub fn print_demo_accounts() {
    println!("{}", demo_accounts_table());
}

fn demo_accounts_table() -> String {
    fn role_label(role: &str) -> &'static str {
        match role {
            "inspector" => "巡查员 Inspector",
            "town_officer" => "区镇交安办 Town office",
            "unit_officer" => "责任单位 Responsible unit",
            "dispatcher" => "市交安办 City office",
            "reviewer" => "审核验收 Reviewer",
            "leader" => "领导 Leader (read-only)",
            "admin" => "管理员 Administrator",
            "hotline" => "12345热线 Hotline operator",
            _ => "",
        }
    }
    // Terminal columns: CJK characters take two.
    fn pad(s: &str, width: usize) -> String {
        let used: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
        format!("{s}{}", " ".repeat(width.saturating_sub(used)))
    }
    let town = towns::TOWNS[accounts::DEMO_TOWN].name;
    let mut out = String::new();
    out.push_str("\n演示账号 / Demo accounts — 登录 / sign in at /login.html\n\n");
    out.push_str(&format!("  {}{}{}\n", pad("账号 Name", 18), pad("角色 Role", 30), "密码 Password"));
    for &(name, role, password) in DEMO_ACCOUNTS {
        out.push_str(&format!("  {}{}{password}\n", pad(name, 18), pad(role_label(role), 30)));
    }
    out.push_str(&format!(
        "\n  密码规则：账号 + \"-2026\" / password rule: the name followed by \"-2026\"\n  \
         demo-town 只看{town}的点位 / sees the sites of {town} only\n  \
         demo-unit 只看派给{unit}的点位 / sees the sites assigned to that unit only\n  \
         数据中的其他人员（张伟等）有账号但不能登录 / the dataset's people have accounts but cannot sign in\n\n  \
         随手拍（群众报告隐患，无需账号）/ the public's hazard reports, no account: /report.html\n  \
         Open311 演示密钥 / demo Open311 api_key: {DEMO_OPEN311_KEY}  (/open311/v2/discovery.json)\n",
        unit = accounts::DEMO_UNIT
    ));
    out
}

/// Loads the demo dataset when the database has no sites yet; otherwise leaves it alone, apart from creating
/// the demo accounts if they are missing. Prints the demo accounts either way.
pub async fn load_if_empty(pool: &PgPool, photos: &PhotoStore) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    // Two servers started at once on one database must not both load.
    sqlx::query("select pg_advisory_xact_lock(hashtext('roadledger.demo'))").execute(&mut *tx).await?;
    let (sites, towns, roads): (i64, i64, i64) =
        sqlx::query_as("select (select count(*) from site), (select count(*) from town), (select count(*) from road)")
            .fetch_one(&mut *tx)
            .await?;
    if sites > 0 {
        tracing::info!(sites, "the database already has sites: the demo dataset is not loaded");
        if ensure_demo_accounts(&mut tx).await.context("demo accounts")? {
            crate::db::open311::ensure_demo_client(&mut tx, DEMO_OPEN311_KEY)
                .await
                .context("the demo's Open311 client")?;
            tx.commit().await?;
            print_demo_accounts();
        }
        return Ok(());
    }
    if towns > 0 || roads > 0 {
        tracing::warn!(
            towns,
            roads,
            "the database has towns or roads but no sites: the demo dataset needs an empty database and is not loaded"
        );
        return Ok(());
    }

    // Argon2id is slow on purpose: the shared hash of the people's accounts (an unknowable password) and the
    // demo accounts' hashes are computed on the blocking pool while the dataset is drawn.
    let passwords =
        std::iter::once(accounts::unknowable_password()).chain(DEMO_ACCOUNTS.iter().map(|a| a.2.to_string())).collect();
    let hashing = accounts::start_hashing(passwords);

    let catalogue = write::catalogue(&mut tx).await?;
    check_hazard_codes(&catalogue)?;

    // Drawing, encoding and generating are CPU work: off the async worker threads.
    let rendered = tokio::task::spawn_blocking(render_pictures).await??;
    let pictures = store_pictures(photos, rendered).await?;
    let cat = catalogue.clone();
    let hashes: Vec<[u8; 32]> = pictures.iter().map(|p| p.sha256).collect();
    let data = tokio::task::spawn_blocking(move || Dataset::generate(&cat, &hashes)).await?;

    write::towns(&mut tx, &data.towns).await.context("towns")?;
    let road_ids = write::roads(&mut tx, &data.net.roads).await.context("roads")?;
    write::chainage_breaks(&mut tx, &roads::CHAINAGE_BREAKS).await.context("chainage breaks")?;
    let org_ids = write::organisations(&mut tx, &names::organisations()).await.context("organisations")?;

    let hashes = hashing.finish().await.context("hashing the demo passwords")?;
    let (shared_hash, demo_hashes) = hashes.split_first().expect("one hash per password");
    let people = accounts::people();
    let mut new_accounts = accounts::people_rows(&people, shared_hash, &org_ids)?;
    new_accounts.extend(accounts::demo_rows(&DEMO_ACCOUNTS.iter().collect::<Vec<_>>(), demo_hashes, &org_ids)?);
    let account_ids = write::accounts(&mut tx, &new_accounts).await.context("accounts")?;
    crate::db::open311::ensure_demo_client(&mut tx, DEMO_OPEN311_KEY).await.context("the demo's Open311 client")?;
    let users: HashMap<&str, Uuid> =
        people.iter().filter_map(|p| Some((p.display_name, *account_ids.get(p.name)?))).collect();

    let ledger = &data.ledger;
    write::sites(&mut tx, &ledger.sites, &road_ids, &org_ids, &users).await.context("sites")?;
    write::items(&mut tx, &ledger.items).await.context("checklist items")?;
    write::observations(&mut tx, &ledger.observations, &users).await.context("observations")?;
    write::evidence(&mut tx, &ledger.evidence, &users).await.context("evidence")?;
    write::photos(&mut tx, &ledger.photos, &pictures).await.context("photos")?;
    write::look_backs(&mut tx, &ledger.look_backs, &users).await.context("look-back tasks")?;
    write::extensions(&mut tx, &ledger.extensions, &users).await.context("extension requests")?;
    write::events(&mut tx, &ledger.events, &users, &org_ids).await.context("site events")?;
    write::crashes(&mut tx, &data.crashes, &road_ids).await.context("crashes")?;
    // Live sites continue the ledger numbers after the demo's.
    sqlx::query("select setval('site_code_seq', $1)").bind(ledger.sites.len() as i64).execute(&mut *tx).await?;

    // Every site must have found its town; a site outside every boundary is a bug in the generator.
    let townless: i64 =
        sqlx::query_scalar("select count(*) from site where town_id is null").fetch_one(&mut *tx).await?;
    anyhow::ensure!(townless == 0, "{townless} demo sites lie outside every town");
    let by_status: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from site group by status order by count(*) desc, status")
            .fetch_all(&mut *tx)
            .await?;
    let overdue: i64 = sqlx::query_scalar(
        "select count(*) from site where deadline < current_date
             and status not in ('closed', 'cancelled', 'rejected', 'duplicate')",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    // Planner statistics now, not when autovacuum gets round to the new rows: the first pages opened on the
    // demo would otherwise plan their joins blind (the close-out checks of every site take 30× longer).
    sqlx::query("analyze").execute(pool).await?;
    publish_reports(pool).await.context("the demo's published reports")?;
    let screening_runs = screen(pool).await.context("the demo's screening runs")?;
    let detections = detections::load(pool, photos, roads::COUNTY_ADMIN_CODE).await.context("the demo's detections")?;
    let public_reports = public_reports::load(pool, photos).await.context("the demo's public reports")?;
    let hotline_tickets = hotline::load(pool).await.context("the demo's hotline tickets")?;

    let by_status = by_status.iter().map(|(s, n)| format!("{s}={n}")).collect::<Vec<_>>().join(" ");
    let by_kind: BTreeMap<&str, usize> = ledger.sites.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.kind.as_str()).or_default() += 1;
        m
    });
    tracing::info!(
        towns = data.towns.len(),
        roads = data.net.roads.len(),
        organisations = org_ids.len(),
        accounts = new_accounts.len(),
        sites = ledger.sites.len(),
        sites_by_kind = ?by_kind,
        sites_by_status = %by_status,
        overdue,
        checklist_items = ledger.items.len(),
        observations = ledger.observations.len(),
        evidence = ledger.evidence.len(),
        photos = ledger.photos.len(),
        extension_requests = ledger.extensions.len(),
        look_back_tasks = ledger.look_backs.len(),
        photo_files = pictures.len(),
        detections,
        public_reports,
        hotline_tickets,
        events = ledger.events.len(),
        crashes = data.crashes.len(),
        screening_runs = %screening_runs,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "loaded the Zhangjiagang demo dataset"
    );
    print_demo_accounts();
    Ok(())
}

/// The demo's leader publishes October's bulletin and the third quarter's board, as the county office would
/// have, so town officers find published copies (drafts of the periods since come from the schedule).
async fn publish_reports(pool: &PgPool) -> anyhow::Result<()> {
    use crate::domain::report::{Period, ReportKind};
    let leader: Uuid = sqlx::query_scalar("select id from app_user where name = 'demo-leader'").fetch_one(pool).await?;
    for (kind, code) in [(ReportKind::Monthly, "2026-10"), (ReportKind::Ranking, "2026Q3")] {
        let period = Period::parse(kind.period_kind(), code)?;
        let note = format!("{}{}（演示数据）", period.title_zh(), kind.title_zh());
        crate::db::reports::publish_county(
            pool,
            kind,
            period,
            &Default::default(),
            &Default::default(),
            None,
            Some(&note),
            leader,
        )
        .await?;
    }
    Ok(())
}

/// The city office's dispatcher screens the three years of crashes by each method, as a dispatcher would
/// before the candidates queue is worked through. A busy county's thresholds are above DOMAIN.md's defaults
/// (with about a thousand crashes a year, three in 500 m or one fatal crash would flag most of the trunk
/// roads), so the dispatcher raised them. Answers each method's candidate count, for the log.
async fn screen(pool: &PgPool) -> anyhow::Result<String> {
    use crate::domain::screening::{DataWindow, ScreeningDefaults};
    use serde_json::json;
    let window = DataWindow::new(Some(crashes::first_day()), Some(crashes::end_day()), crashes::end_day(), 3)?;
    let defaults = ScreeningDefaults::default();
    let mut runs = Vec::new();
    for (method, raised) in [
        ("sliding_window", json!({"min_crashes": 7, "min_fatal_crashes": 2})),
        ("junction", json!({"min_crashes": 6})),
        ("dbscan", json!({"eps_m": 50, "min_points": 6})),
    ] {
        let parameters = defaults.of(method.parse()?).apply(raised.as_object().expect("an object"))?;
        let request = crate::db::screening::RunRequest { parameters, window, run_by: "demo-dispatcher" };
        let id = crate::db::screening::run(pool, &request).await?;
        let found: i32 =
            sqlx::query_scalar("select candidates from screening_run where id = $1").bind(id).fetch_one(pool).await?;
        runs.push(format!("{method}={found}"));
    }
    Ok(runs.join(" "))
}

/// On a database that already has sites: creates the demo accounts that are missing. Answers whether the
/// demo accounts exist now; false (with a warning) when this is not a demo database, which gets no accounts
/// with published passwords.
async fn ensure_demo_accounts(conn: &mut PgConnection) -> anyhow::Result<bool> {
    let names: Vec<&str> = DEMO_ACCOUNTS.iter().map(|a| a.0).collect();
    let existing: Vec<String> =
        sqlx::query_scalar("select name from app_user where name = any($1)").bind(&names).fetch_all(&mut *conn).await?;
    let missing: Vec<&(&str, &str, &str)> =
        DEMO_ACCOUNTS.iter().filter(|a| !existing.iter().any(|e| e == a.0)).collect();
    if missing.is_empty() {
        return Ok(true);
    }
    let wanted = accounts::demo_organisations();
    let org_ids = write::organisation_ids(&mut *conn, &wanted, names::CITY_OFFICE).await?;
    if wanted.iter().any(|o| !org_ids.contains_key(*o)) {
        tracing::warn!(
            "the database has sites but not the demo's organisations: it is not a demo database, so no demo \
             accounts are created"
        );
        return Ok(false);
    }
    let hashes = accounts::start_hashing(missing.iter().map(|a| a.2.to_string()).collect()).finish().await?;
    let rows = accounts::demo_rows(&missing, &hashes, &org_ids)?;
    write::accounts(&mut *conn, &rows).await?;
    tracing::info!(accounts = ?missing.iter().map(|a| a.0).collect::<Vec<_>>(), "created the missing demo accounts");
    Ok(true)
}

/// The generated data, before it is written.
struct Dataset {
    towns: Vec<towns::Town>,
    net: roads::Network,
    ledger: Ledger,
    crashes: Vec<crashes::DemoCrash>,
}

impl Dataset {
    fn generate(catalogue: &Catalogue, pictures: &[[u8; 32]]) -> Self {
        let towns = towns::tile();
        let net = roads::build(&towns);
        let places = places::place(&towns, &net, (places::INTERSECTIONS, places::SPOTS, places::SECTIONS));
        let ledger = ledger::build(&towns, &net, places, catalogue, pictures);
        let crashes = crashes::generate(&net);
        Dataset { towns, net, ledger, crashes }
    }
}

/// The hazard codes the generator uses must be rows of `hazard_type` (the column is a plain array).
fn check_hazard_codes(catalogue: &Catalogue) -> anyhow::Result<()> {
    let lists = [names::INTERSECTION_HAZARDS, names::INTERSECTION_EXTRAS, names::SPOT_HAZARDS, names::SECTION_HAZARDS];
    for (code, _) in lists.iter().flat_map(|l| l.iter()) {
        anyhow::ensure!(
            catalogue.hazard_names.contains_key(*code),
            "hazard type {code} is not in the hazard_type table"
        );
    }
    Ok(())
}

/// Draws every picture and runs it through the upload path's checks and thumbnailing, two at a time.
fn render_pictures() -> anyhow::Result<Vec<(Vec<u8>, ProcessedPhoto)>> {
    let render = |index: usize| -> anyhow::Result<(Vec<u8>, ProcessedPhoto)> {
        let jpeg = pictures::render(index);
        let processed =
            process::process(&jpeg, PhotoLimits::default()).with_context(|| format!("demo picture {index}"))?;
        Ok((jpeg, processed))
    };
    let (odd, even): (Vec<_>, Vec<_>) = std::thread::scope(|scope| {
        let odd = scope.spawn(|| (1..pictures::COUNT).step_by(2).map(render).collect::<Vec<_>>());
        let even = (0..pictures::COUNT).step_by(2).map(render).collect::<Vec<_>>();
        (odd.join().expect("picture thread"), even)
    });
    let mut out = Vec::with_capacity(pictures::COUNT);
    let (mut odd, mut even) = (odd.into_iter(), even.into_iter());
    for index in 0..pictures::COUNT {
        let next = if index % 2 == 0 { even.next() } else { odd.next() };
        out.push(next.expect("one per index")?);
    }
    Ok(out)
}

/// Stores originals and thumbnails under their content-addressed keys (writing one twice is harmless).
async fn store_pictures(
    store: &PhotoStore,
    rendered: Vec<(Vec<u8>, ProcessedPhoto)>,
) -> anyhow::Result<Vec<StoredPicture>> {
    let mut out = Vec::with_capacity(rendered.len());
    for (jpeg, p) in rendered {
        let sha = p.sha256_hex();
        let original_key = PhotoStore::original_key(&sha, p.format.extension());
        let thumbnail_key = PhotoStore::thumbnail_key(&sha);
        store.put(&original_key, Bytes::from(jpeg)).await.with_context(|| format!("storing {original_key}"))?;
        store
            .put(&thumbnail_key, Bytes::from(p.thumbnail_jpeg))
            .await
            .with_context(|| format!("storing {thumbnail_key}"))?;
        out.push(StoredPicture {
            sha256: p.sha256,
            content_type: p.format.content_type(),
            bytes: i32::try_from(p.bytes)?,
            width: i32::try_from(p.width)?,
            height: i32::try_from(p.height)?,
            original_key,
            thumbnail_key,
            thumbnail_width: i32::try_from(p.thumbnail_width)?,
            thumbnail_height: i32::try_from(p.thumbnail_height)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_table_has_every_account_and_where_to_sign_in() {
        let table = demo_accounts_table();
        assert!(table.contains("/login.html"), "{table}");
        for &(name, _, password) in DEMO_ACCOUNTS {
            let line = table.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{name}"));
            assert!(line.ends_with(password), "{line}");
        }
    }
}
