//! The real binary with no `DATABASE_URL`: it creates, starts, reuses and cleanly stops its own PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_roadledger");

/// Starts `roadledger serve` on a free port; returns the child and its base URL once it is serving.
fn serve(data_dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "roadledger=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(logs).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving on http://").nth(1) {
                let addr = rest.split('/').next().unwrap().to_string();
                let _ = tx.send(format!("http://{addr}"));
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(90)).expect("the server did not start within 90 s");
    (child, base)
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("the server did not stop within 30 s of SIGTERM");
}

/// The cluster directory: `DATA_DIR/pg` unless the postgres user cannot reach it.
fn cluster_is_running(data_dir: &std::path::Path) -> bool {
    data_dir.join("pg/postmaster.pid").exists()
}

#[tokio::test]
async fn without_database_url_the_server_runs_its_own_cluster_and_keeps_data_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    // tempdir is 0700; as root the server runs as `postgres`, which must be able to reach the cluster.
    std::fs::set_permissions(data.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let client = reqwest::Client::new();

    let (child, base) = serve(data.path());
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(cluster_is_running(data.path()));
    let observation = serde_json::json!({
        "id": uuid::Uuid::new_v4(),
        "kind": "spot",
        "geometry": {"type": "Point", "coordinates": [120.55, 31.87]},
        "observed_at": "2026-11-30T09:00:00+08:00",
    });
    // Provisioning from the command line, against the cluster the server is running.
    let token = provision(data.path());
    let anonymous = client.get(format!("{base}/api/v1/sites")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let form = reqwest::multipart::Form::new().text("observation", observation.to_string());
    let created =
        client.post(format!("{base}/api/v1/observations")).bearer_auth(&token).multipart(form).send().await.unwrap();
    assert_eq!(created.status(), 201);

    let status = terminate(child);
    assert!(status.success(), "{status}");
    assert!(!cluster_is_running(data.path()), "SIGTERM must stop the embedded PostgreSQL too");

    // Second run: the same cluster, the same data.
    let (child, base) = serve(data.path());
    let sites: serde_json::Value =
        client.get(format!("{base}/api/v1/sites")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(sites["features"].as_array().unwrap().len(), 1);
    assert!(terminate(child).success());
}

/// `org list`, `user add --password-stdin` and `token create`, as an administrator would script them; returns
/// the new inspector's API token.
fn provision(data_dir: &std::path::Path) -> String {
    let data_dir = data_dir.to_str().unwrap();
    let run =
        |args: &[&str], stdin: &str| crate::faults::harness::cli(&[args, &["--data-dir", data_dir]].concat(), stdin);
    let orgs = run(&["org", "list"], "");
    let city_office = orgs.lines().find(|l| l.split('\t').nth(1) == Some("city_office")).expect(&orgs);
    let org_id = city_office.split('\t').next().unwrap();
    let added = run(
        &[
            "user",
            "add",
            "--name",
            "li.na",
            "--display-name",
            "李娜",
            "--role",
            "inspector",
            "--org",
            org_id,
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert!(added.trim_end().ends_with("\tli.na"), "{added}");
    let token = run(&["token", "create", "--user", "li.na"], "").trim().to_string();
    assert!(token.starts_with("rl_") && token.len() == 67, "{token}");
    token
}

#[test]
fn without_postgresql_the_message_names_the_package_to_install() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env_remove("DATABASE_URL")
        .env("ROADLEDGER_PG_BIN_DIR", "/nonexistent/postgresql/bin")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("apt-get install -y postgresql-15-postgis-3"), "{stderr}");
}
