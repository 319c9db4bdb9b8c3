//! Scriptable provisioning: `roadledger org list|add`, `roadledger user add`, `roadledger token create`.
//! Output goes to standard output (machine-friendly, tab-separated); errors say what to fix.

use anyhow::{Context, bail};
use sqlx::PgPool;

use std::path::PathBuf;
use std::sync::Arc;

use crate::db::accounts::{self, CreateOutcome, NewUser};
use crate::domain::auth;
use crate::import::{self, ImportError, ImportKind, ImportProgress, ImportReport, Importer, OptionsInput};
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
    accounts::create_token(pool, user.id, token_name, &token, None).await?;
    println!("{token}");
    Ok(())
}

/// `roadledger import …` as given on the command line.
pub struct ImportRequest {
    pub kind: ImportKind,
    pub file: PathBuf,
    pub breaks: Option<PathBuf>,
    pub options: OptionsInput,
    pub json: bool,
}

/// Runs an import with a progress bar on standard error (drawn only on a terminal) and prints its report:
/// JSON with `--json`, else lines a person reads. Problems make the command fail.
pub async fn import(pool: &PgPool, request: ImportRequest) -> anyhow::Result<()> {
    let file_name = request.file.file_name().unwrap_or_default().display().to_string();
    let user = std::env::var("USER").unwrap_or_else(|_| "?".into());
    let importer = Importer { name: format!("命令行 command line ({user})"), user_id: None };
    let mut options = request.options.into_options(&file_name, importer).map_err(anyhow::Error::msg)?;
    options.breaks = request.breaks;

    let progress = Arc::new(ImportProgress::default());
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg:10} [{bar:40}] {bytes}/{total_bytes} {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let watcher = {
        let (progress, bar) = (progress.clone(), bar.clone());
        tokio::spawn(async move {
            loop {
                let snapshot = progress.snapshot();
                bar.set_length(snapshot["total"].as_u64().unwrap_or(0));
                bar.set_position(snapshot["done"].as_u64().unwrap_or(0));
                bar.set_message(snapshot["phase"].as_str().unwrap_or("").to_owned());
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    };
    let result = import::run(pool, request.kind, &request.file, &options, progress).await;
    watcher.abort();
    bar.finish_and_clear();

    let report = match result {
        Ok(report) => report,
        Err(ImportError::Refused(report)) => {
            print_report(&report, request.json)?;
            bail!("{} problem(s): nothing was imported", report.problems_total);
        }
        Err(e) => return Err(e.into()),
    };
    print_report(&report, request.json)
}

fn print_report(report: &ImportReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    let f = &report.file;
    let details: Vec<&str> =
        [Some(f.format.as_str()), f.crs.as_deref(), f.encoding.as_deref()].into_iter().flatten().collect();
    println!(
        "{} ({}): {} read in {:.1} s",
        f.name,
        details.join(", "),
        report.features_read,
        report.elapsed_ms as f64 / 1000.0
    );
    if !f.fields.is_empty() {
        let fields: Vec<String> =
            f.fields.iter().map(|(a, field)| format!("{a} → {}", field.as_str().unwrap_or(""))).collect();
        println!("fields: {}", fields.join(", "));
    }
    let verb = if report.dry_run {
        "would insert"
    } else if report.applied {
        "inserted"
    } else {
        "insert"
    };
    if report.problems_total == 0 {
        println!(
            "{}: {verb} {}, update {}; {} unchanged; {} in the database but not in the file (kept){}",
            report.kind.as_str(),
            report.inserted,
            report.updated,
            report.unchanged,
            report.not_in_file,
            if report.dry_run {
                " — dry run, nothing written"
            } else if !report.applied {
                " — nothing to change"
            } else {
                ""
            }
        );
    }
    for r in &report.repaired {
        println!("repaired: feature {} ({}): {}", r.feature, r.key, r.repair);
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    for c in &report.sites_changed {
        println!("site {} {}: {} → {}", c.code.as_deref().unwrap_or("?"), c.field, c.before, c.after);
    }
    for p in &report.problems {
        let at = p.feature.map(|n| format!("feature {n}")).unwrap_or_default();
        let key = p.key.as_deref().map(|k| format!(" ({k})")).unwrap_or_default();
        println!("problem: {at}{key}: {}", p.problem);
    }
    if report.problems_total > report.problems.len() as u64 {
        println!("… and {} more problems", report.problems_total - report.problems.len() as u64);
    }
    if let Some(id) = report.import_id {
        println!("import {id} recorded");
    }
    Ok(())
}

/// `roadledger import crashes …` as given on the command line.
pub struct CrashImportRequest {
    pub file: PathBuf,
    pub mapping: Option<PathBuf>,
    pub crs: Option<String>,
    pub encoding: Option<String>,
    pub sheet: Option<String>,
    pub county: Option<String>,
    pub bytes_max: u64,
    pub dry_run: bool,
    pub json: bool,
}

/// Imports a crash file and prints its report: lines a person reads, or JSON with `--json`. Refused rows are
/// reported, not failures; a file that cannot be used at all fails the command.
pub async fn import_crashes(pool: &PgPool, request: CrashImportRequest) -> anyhow::Result<()> {
    use crate::import::crashes::{self, CrashImportOptions, CrashLimits};
    let file_name = request.file.file_name().unwrap_or_default().display().to_string();
    let user = std::env::var("USER").unwrap_or_else(|_| "?".into());
    let mut options = CrashImportOptions::new(&file_name, format!("命令行 command line ({user})"));
    options.dry_run = request.dry_run;
    options.county = request.county;
    options.limits = CrashLimits { bytes_max: request.bytes_max, ..CrashLimits::default() };
    let mapping = match &request.mapping {
        Some(path) => {
            Some(std::fs::read_to_string(path).with_context(|| format!("cannot read the mapping {}", path.display()))?)
        }
        None => None,
    };
    options.parse_text(
        request.crs.as_deref(),
        request.encoding.as_deref(),
        request.sheet.as_deref(),
        mapping.as_deref(),
    )?;
    let size =
        std::fs::metadata(&request.file).with_context(|| format!("cannot read {}", request.file.display()))?.len();
    if size > request.bytes_max {
        bail!(
            "{file_name} is {size} bytes; a crash file may have at most {} (--crash-import-bytes-max)",
            request.bytes_max
        );
    }
    let bytes = std::fs::read(&request.file).with_context(|| format!("cannot read {}", request.file.display()))?;
    let report = crashes::import(pool, bytes, &options).await?;
    if request.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let f = &report.file;
    let details: Vec<&str> = [Some(f.format.as_str()), f.encoding.as_deref(), f.sheet.as_deref(), Some(f.crs.as_str())]
        .into_iter()
        .flatten()
        .collect();
    println!(
        "{} ({}): {} rows read in {:.1} s",
        f.name,
        details.join(", "),
        report.rows_read,
        report.elapsed_ms as f64 / 1000.0
    );
    let columns: Vec<String> = report.columns.iter().map(|(field, header)| format!("{header} → {field}")).collect();
    println!("columns: {}", columns.join(", "));
    if !report.dropped_columns.is_empty() {
        println!("dropped (personal data, never stored): {}", report.dropped_columns.join(", "));
    }
    if !report.ignored_columns.is_empty() {
        println!("not read: {}", report.ignored_columns.join(", "));
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    let verb = if report.dry_run { "would import" } else { "imported" };
    println!(
        "{verb} {}, {} already stored, {} refused{}",
        report.rows_imported,
        report.rows_known,
        report.rows_refused,
        if report.dry_run { " — dry run, nothing written" } else { "" }
    );
    for r in &report.refused {
        let no = r.record_no.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        println!("refused: row {}{no}: {}", r.row, r.reason);
    }
    if report.rows_refused > report.refused.len() as u64 {
        println!("… and {} more refused rows", report.rows_refused - report.refused.len() as u64);
    }
    if let Some(id) = report.import_id {
        println!("crash import {id} recorded");
    }
    Ok(())
}

/// `roadledger import hotline …` as given on the command line.
pub struct HotlineImportRequest {
    pub file: PathBuf,
    pub crs: Option<String>,
    pub encoding: Option<String>,
    pub bytes_max: u64,
    pub dry_run: bool,
    pub json: bool,
}

/// Imports a 12345 hotline export and prints its report: lines a person reads, or JSON with `--json`. Refused
/// rows are reported, not failures; a file that cannot be used at all fails the command.
pub async fn import_hotline(pool: &PgPool, request: HotlineImportRequest) -> anyhow::Result<()> {
    use crate::import::hotline::{self, HotlineImportOptions};
    let file_name = request.file.file_name().unwrap_or_default().display().to_string();
    let user = std::env::var("USER").unwrap_or_else(|_| "?".into());
    let mut options = HotlineImportOptions::new(&file_name, format!("命令行 command line ({user})"));
    options.dry_run = request.dry_run;
    options.limits.bytes_max = request.bytes_max;
    options.parse_text(request.crs.as_deref(), request.encoding.as_deref())?;
    let size =
        std::fs::metadata(&request.file).with_context(|| format!("cannot read {}", request.file.display()))?.len();
    if size > request.bytes_max {
        bail!(
            "{file_name} is {size} bytes; a hotline export may have at most {} (--hotline-import-bytes-max)",
            request.bytes_max
        );
    }
    let bytes = std::fs::read(&request.file).with_context(|| format!("cannot read {}", request.file.display()))?;
    let report = hotline::import(pool, bytes, &options).await?;
    if request.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let f = &report.file;
    println!(
        "{} ({}, {}): {} rows read",
        f.name,
        f.encoding.as_deref().unwrap_or("?"),
        f.crs.as_str(),
        report.rows_read
    );
    let columns: Vec<String> = report.columns.iter().map(|(field, header)| format!("{header} → {field}")).collect();
    println!("columns: {}", columns.join(", "));
    if !report.ignored_columns.is_empty() {
        println!("not read: {}", report.ignored_columns.join(", "));
    }
    let verb = if report.dry_run { "would store" } else { "stored" };
    println!(
        "{verb} {}, {} already stored, {} refused{}",
        report.rows_stored,
        report.rows_known,
        report.rows_refused,
        if report.dry_run { " — dry run, nothing written" } else { "" }
    );
    for r in &report.refused {
        let no = r.ticket_no.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        println!("refused: row {}{no}: {}", r.row, r.reason);
    }
    if report.rows_refused > report.refused.len() as u64 {
        println!("… and {} more refused rows", report.rows_refused - report.refused.len() as u64);
    }
    Ok(())
}
