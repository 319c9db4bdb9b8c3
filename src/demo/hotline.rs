//! The demo's 12345 hotline tickets (issue 13): six calls about the demo county's roads, entered by the
//! demo's hotline operator through `domain::hotline::check` and `db::hotline::store`, as the form stores
//! them. Three callers could say where on a road (a point on one of the demo's roads), three only an address.
//! One, about a place the ledger already has, is merged into the nearest open site, as a dispatcher would,
//! so its number shows in the ledger's 热线工单号 column; the rest wait in the public reports' queue.

use anyhow::Context;
use sqlx::PgPool;

use crate::db::hotline::{Outcome, store};
use crate::domain::coords::SourceCrs;
use crate::domain::hotline::{TicketInput, check};

/// (ticket number, hours before now, what the caller said, address, a road's fraction to place it at or
/// none, category code, phone, name).
type DemoTicket =
    (&'static str, i64, &'static str, &'static str, Option<f64>, &'static str, &'static str, &'static str);

const TICKETS: [DemoTicket; 6] = [
    (
        "ZJG12345-20261121-0031",
        380,
        "村口路灯坏了快一个月，晚上电动车看不清路口",
        "杨舍镇善港村村口",
        Some(0.32),
        "lighting",
        "13962201234",
        "陈女士",
    ),
    (
        "ZJG12345-20261124-0107",
        310,
        "学校门口早上车多，没有减速带，孩子过马路很危险",
        "塘桥镇实验小学南门",
        None,
        "school_zone",
        "13771605678",
        "王先生",
    ),
    (
        "ZJG12345-20261126-0044",
        262,
        "急弯处护栏被撞断了一截，下面就是河",
        "凤凰镇恬庄村河边弯道",
        Some(0.61),
        "barrier",
        "18915623456",
        "",
    ),
    ("ZJG12345-20261130-0210", 170, "路上有人晒稻谷占了半条路", "乐余镇兆丰村", None, "roadside", "", "李大爷"),
    (
        "ZJG12345-20261202-0015",
        120,
        "路面塌了一个坑，下雨积水看不出来",
        "南丰镇永联村路段",
        Some(0.45),
        "pavement",
        "0512-58561234",
        "",
    ),
    (
        "ZJG12345-20261204-0092",
        70,
        "十字路口没有红绿灯，也没有让行标志",
        "锦丰镇",
        None,
        "intersection",
        "13506227890",
        "周先生",
    ),
];

/// Stores the demo's tickets; answers how many.
pub async fn load(pool: &PgPool) -> anyhow::Result<usize> {
    let operator: String =
        sqlx::query_scalar("select display_name from app_user where name = 'demo-hotline'").fetch_one(pool).await?;
    let dispatcher: String =
        sqlx::query_scalar("select display_name from app_user where name = 'demo-dispatcher'").fetch_one(pool).await?;
    let roads: Vec<i32> =
        sqlx::query_scalar("select id from road where route_code is not null order by id").fetch_all(pool).await?;
    anyhow::ensure!(roads.len() >= TICKETS.len(), "the demo's tickets lie on its roads, and there are too few");
    let now = chrono::Utc::now();
    let mut tx = pool.begin().await?;
    for (i, &(ticket_no, hours, description, address, along, category, phone, name)) in TICKETS.iter().enumerate() {
        let point = match along {
            None => None,
            Some(along) => Some(
                sqlx::query_as::<_, (f64, f64)>(
                    "select st_x(p), st_y(p) from (
                         select st_lineinterpolatepoint(st_geometryn(geom, 1), $2) as p from road where id = $1) x",
                )
                .bind(roads[i * (roads.len() / TICKETS.len())])
                .bind(along)
                .fetch_one(&mut *tx)
                .await?,
            ),
        };
        let input = TicketInput {
            ticket_no: Some(ticket_no),
            called_at: Some(now - chrono::Duration::hours(hours)),
            description: Some(description),
            address: Some(address),
            point,
            crs: SourceCrs::Wgs84,
            category: Some(category),
            caller_phone: Some(phone),
            caller_name: Some(name),
        };
        let ticket = check(&input, now).with_context(|| format!("demo ticket {ticket_no}"))?;
        let Outcome::Created(id) = store(&mut tx, &ticket, &operator).await? else {
            anyhow::bail!("demo ticket {ticket_no} was stored before");
        };
        // The first ticket: a dispatcher found the site it reports already in the ledger and merged it there.
        if i == 0 {
            sqlx::query(
                "update public_report r set status = 'merged', decided_at = now(), decided_by = $2,
                        site_id = (select s.id from site s
                                   where s.status = any($3)
                                   order by s.geom <-> r.geom limit 1)
                 where r.id = $1",
            )
            .bind(id)
            .bind(&dispatcher)
            .bind(crate::domain::site::SiteStatus::open_codes())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(TICKETS.len())
}
