//! 12345 hotline tickets in the database: one ticket stored through `public_reports::insert` (the one insert
//! every channel shares), keyed by its ticket number, and compared with what is stored under that number,
//! so a repeat is recognised and a different ticket under a known number refused. Also what the ledger and
//! the form read back of a ticket.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

use super::public_reports::{self, NewPublicReport, Stored};
use crate::domain::coords::SourceCrs;
use crate::domain::hotline::{Ticket, differences};
use crate::domain::public_report::{Channel, PublicStatus, ReportStatus, category, tracking_token};

/// What storing a ticket did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A new ticket, stored now.
    Created(i64),
    /// The same ticket was stored before (the same number, the same content): nothing written.
    Known(i64),
    /// Another ticket is stored under this number: nothing written; the fields that differ.
    Conflict { id: i64, fields: Vec<&'static str> },
}

/// Stores a ticket in the caller's transaction, or recognises it. `entered_by` is the operator who entered
/// it or imported its file.
pub async fn store(tx: &mut Transaction<'_, Postgres>, ticket: &Ticket, entered_by: &str) -> sqlx::Result<Outcome> {
    let report = NewPublicReport {
        channel: Channel::Hotline,
        submission_id: None,
        tracking_token: tracking_token(),
        category: ticket.category,
        description: ticket.description.clone(),
        point: ticket.point,
        source_crs: ticket.crs,
        accuracy_m: None,
        address_text: ticket.address.clone(),
        ticket_no: Some(ticket.ticket_no.clone()),
        reported_at: ticket.called_at,
        open311_client_id: None,
        contact_name: ticket.caller_name.clone(),
        contact_phone: ticket.caller_phone.clone(),
        contact_email: None,
        sender_hash: None,
        device_hash: None,
        entered_by: Some(entered_by.to_owned()),
        photos: Vec::new(),
    };
    match public_reports::insert(tx, &report).await? {
        Stored::Created { id, .. } => Ok(Outcome::Created(id)),
        Stored::Known { .. } => {
            let (id, stored, contact_kept) =
                stored_ticket(tx, &ticket.ticket_no).await?.ok_or(sqlx::Error::RowNotFound)?;
            let fields = differences(&stored, ticket, contact_kept);
            Ok(if fields.is_empty() { Outcome::Known(id) } else { Outcome::Conflict { id, fields } })
        }
    }
}

/// The ticket stored under a number, as a `Ticket` (for the comparison), with whether its contact data is
/// still kept.
async fn stored_ticket(conn: &mut PgConnection, ticket_no: &str) -> sqlx::Result<Option<(i64, Ticket, bool)>> {
    let Some(r) = sqlx::query!(
        r#"select id, ticket_no as "ticket_no!", reported_at, description, address_text,
               st_x(geom) as lon, st_y(geom) as lat, source_crs, category, contact_phone, contact_name,
               contact_purged_at is null as "contact_kept!"
           from public_report where ticket_no = $1"#,
        ticket_no
    )
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let ticket = Ticket {
        ticket_no: r.ticket_no,
        called_at: r.reported_at,
        description: r.description,
        address: r.address_text,
        point: r.lon.zip(r.lat),
        crs: r.source_crs.parse().unwrap_or(SourceCrs::Wgs84),
        // The check constraint keeps the codes known; an unknown one never equals a new ticket's.
        category: category(&r.category).map_or("", |c| c.code),
        caller_phone: r.contact_phone,
        caller_name: r.contact_name,
    };
    Ok(Some((r.id, ticket, r.contact_kept)))
}

/// A stored ticket as the form's answer shows it. The caller's phone is the stored one: the handler masks it
/// for everyone but dispatchers.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TicketView {
    pub id: i64,
    pub ticket_no: String,
    pub called_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub category: String,
    pub description: String,
    pub address: Option<String>,
    /// WGS-84 longitude and latitude.
    pub location: Option<[f64; 2]>,
    pub caller_phone: Option<String>,
    pub caller_name: Option<String>,
    pub entered_by: Option<String>,
    pub status: ReportStatus,
    pub public_status: PublicStatus,
    /// The caller's tracking link's token (`/track.html#<token>`), to read out or text to the caller.
    pub tracking_token: String,
    /// The ledger code of the site the ticket became part of, once accepted.
    pub site_code: Option<String>,
}

pub async fn view(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<TicketView>> {
    let row = sqlx::query!(
        r#"select r.id, r.ticket_no as "ticket_no!", r.reported_at, r.received_at, r.category, r.description,
               r.address_text, st_x(r.geom) as lon, st_y(r.geom) as lat, r.contact_phone, r.contact_name,
               r.entered_by, r.status as "status: ReportStatus", r.public_status as "public_status: PublicStatus",
               r.tracking_token, s.code as "site_code?"
           from public_report r left join site s on s.id = r.site_id
           where r.id = $1 and r.channel = 'hotline'"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| TicketView {
        id: r.id,
        ticket_no: r.ticket_no,
        called_at: r.reported_at,
        received_at: r.received_at,
        category: r.category,
        description: r.description,
        address: r.address_text,
        location: r.lon.zip(r.lat).map(|(lon, lat)| [lon, lat]),
        caller_phone: r.contact_phone,
        caller_name: r.contact_name,
        entered_by: r.entered_by,
        status: r.status,
        public_status: r.public_status,
        tracking_token: r.tracking_token,
        site_code: r.site_code,
    }))
}
