//! Reference data: towns and roads (the map's background), hazard types and checklist templates.

use sqlx::PgPool;

/// Most towns or roads one answer carries: a county has tens of towns and a few thousand routes.
pub const BACKGROUND_FEATURES_MAX: i64 = 20_000;

/// Towns as a GeoJSON FeatureCollection (text), boundaries simplified to ~10 m for drawing.
pub async fn towns_geojson(pool: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"select json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
             'type', 'Feature', 'id', t.id,
             'geometry', st_asgeojson(st_simplifypreservetopology(t.boundary, 0.0001), 6)::json,
             'properties', json_build_object('id', t.id, 'admin_code', t.admin_code, 'name', t.name,
                 'name_en', t.name_en,
                 'label_point', st_asgeojson(st_pointonsurface(t.boundary), 6)::json))
             order by t.admin_code), '[]'))::text as "geojson!"
         from (select * from town order by admin_code limit $1) t"#,
        BACKGROUND_FEATURES_MAX
    )
    .fetch_one(pool)
    .await
}

/// Roads as a GeoJSON FeatureCollection (text), with their class for styling.
pub async fn roads_geojson(pool: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"select json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
             'type', 'Feature', 'id', r.id,
             'geometry', st_asgeojson(r.geom, 6)::json,
             'properties', json_build_object('id', r.id, 'route_code', r.route_code, 'class', r.class,
                 'name', r.name))
             order by r.class, r.route_code), '[]'))::text as "geojson!"
         from (select * from road order by class, route_code limit $1) r"#,
        BACKGROUND_FEATURES_MAX
    )
    .fetch_one(pool)
    .await
}

/// Hazard types grouped as in DOMAIN.md §3, as JSON text.
pub async fn hazard_types_json(pool: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"select coalesce(json_agg(json_build_object('code', code, 'group', grp, 'name', name, 'name_en', name_en)
             order by grp, code), '[]')::text as "json!"
         from hazard_type"#
    )
    .fetch_one(pool)
    .await
}

/// Checklist templates with their items, as JSON text.
pub async fn templates_json(pool: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"select coalesce(json_agg(json_build_object('code', t.code, 'name', t.name, 'name_en', t.name_en,
             'site_kinds', t.site_kinds,
             'items', (select json_agg(json_build_object('code', i.code, 'name', i.name, 'name_en', i.name_en,
                           'required', i.required, 'quantity_min', i.quantity_min,
                           'evidence_fields', i.evidence_fields, 'night_evidence', i.night_evidence)
                           order by i.position)
                       from checklist_template_item i where i.template_code = t.code))
             order by t.code), '[]')::text as "json!"
         from checklist_template t"#
    )
    .fetch_one(pool)
    .await
}

/// Item codes of a template, in order.
pub async fn template_item_codes(pool: &PgPool, template_code: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "select code from checklist_template_item where template_code = $1 order by position",
        template_code
    )
    .fetch_all(pool)
    .await
}

/// The given hazard type codes that do not exist.
pub async fn unknown_hazard_types(pool: &PgPool, codes: &[String]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"select c as "c!" from unnest($1::text[]) c where not exists (select 1 from hazard_type h where h.code = c)"#,
        codes
    )
    .fetch_all(pool)
    .await
}
