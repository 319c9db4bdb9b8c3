//! `GET /api/v1/settings`: what the pages need to know about this server, so that they read its limits, codes
//! and default deadlines instead of keeping copies that drift (issue 15, item 8).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::domain::auth::Actor;
use crate::domain::site::{HazardLevel, ItemState, RectificationMode, SiteKind, SiteStatus, SupervisionLevel};

/// The statuses in the order a site goes through them (DOMAIN.md §6), then the ways out: the order of the
/// map's legend. The length makes the compiler check that none is missing; the test, that none is twice.
const LIFECYCLE_ORDER: [SiteStatus; SiteStatus::ALL.len()] = [
    SiteStatus::Reported,
    SiteStatus::Verified,
    SiteStatus::Assigned,
    SiteStatus::InProgress,
    SiteStatus::PendingReview,
    SiteStatus::Closed,
    SiteStatus::Reopened,
    SiteStatus::Rejected,
    SiteStatus::Duplicate,
    SiteStatus::Cancelled,
];

/// The server's settings and vocabulary, for any signed-in user: statuses in lifecycle order, other codes in
/// the domain's order. Labels and colours are the pages' business.
#[utoipa::path(
    get,
    path = "/settings",
    tag = "reference",
    responses(
        (status = 200, description = "Base map, county, limits, codes in order and default deadlines", body = Object),
    )
)]
pub async fn settings(State(state): State<AppState>, _actor: Actor) -> Json<Value> {
    let s = &state.settings;
    Json(json!({
        "base_map_url": s.base_map_url,
        "county_admin_code": s.county_admin_code,
        "photo_bytes_max": s.photo_limits.bytes_max,
        "photo_pixels_max": s.photo_limits.pixels_max,
        "photos_per_observation_max": s.photos_per_observation_max,
        "repeat_visit_radius_m": crate::domain::site::REPEAT_VISIT_RADIUS_M,
        "look_back_radius_m": s.look_back_radius_m,
        // `GET /api/v1/sites` refuses a larger bbox or page (src/http/sites.rs).
        "bbox_area_deg2_max": super::sites::BBOX_AREA_DEG2_MAX,
        "sites_page_size_max": super::sites::PAGE_SIZE_MAX,
        "default_deadline_days": default_deadline_days(&s.deadlines),
        "statuses": LIFECYCLE_ORDER.iter().map(|s| json!({"code": s.as_str(), "open": s.is_open()})).collect::<Vec<_>>(),
        "site_kinds": codes(SiteKind::ALL, SiteKind::as_str),
        "item_states": codes(ItemState::ALL, ItemState::as_str),
        "hazard_levels": codes(HazardLevel::ALL, HazardLevel::as_str),
        "rectification_modes": codes(RectificationMode::ALL, RectificationMode::as_str),
        "supervision_levels": codes(SupervisionLevel::ALL, SupervisionLevel::as_str),
        // The map draws grid cells below this zoom and one feature per site from it (src/db/tiles.rs).
        "tiles": {"feature_zoom": crate::db::tiles::FEATURE_ZOOM, "max_zoom": crate::db::tiles::MAX_ZOOM},
    }))
}

fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&value| code(value)).collect()
}

/// `{mode: {level: days or null}}` from the deadline policy, so the dispatch dialog shows the deadline the
/// server would set; `null` where a deadline must be given (a major hazard follows its approved plan).
fn default_deadline_days(policy: &crate::domain::policy::DeadlinePolicy) -> Value {
    let mut modes = Map::new();
    for &mode in RectificationMode::ALL {
        let levels: Map<String, Value> = HazardLevel::ALL
            .iter()
            .map(|&level| (level.as_str().to_string(), json!(policy.default_days(level, mode))))
            .collect();
        modes.insert(mode.as_str().to_string(), Value::Object(levels));
    }
    Value::Object(modes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_order_lists_every_status_once() {
        let listed: std::collections::HashSet<_> = LIFECYCLE_ORDER.iter().collect();
        assert_eq!(listed.len(), SiteStatus::ALL.len());
    }
}
